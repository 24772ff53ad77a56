import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStale, lockArchive, type ArchiveLockOwner } from '../../src/output/archive-lock.js';
import { LockBusyError } from '../../src/errors.js';

// When a prune's lock on its --archive file counts as left by a run that is gone (src/output/archive-lock.ts).

const onLinux = process.platform === 'linux';
const selfStart = onLinux ? readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19] : undefined;
const bootId = onLinux ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : undefined;
const owner = (changes: Partial<ArchiveLockOwner>): ArchiveLockOwner => ({
  pid: process.pid,
  host: hostname(),
  boot: bootId,
  start: selfStart,
  since: '2026-12-04T23:00:00.000Z',
  table: 'public.audit_logs',
  ...changes,
});
const fresh = (changes: Partial<ArchiveLockOwner>) => ({ owner: owner(changes) });

describe('isStale', () => {
  it('a running process on this host holds it', () => {
    expect(isStale(fresh({}))).toBe(false);
  });

  it('a pid that no longer runs does not', () => {
    const exited = spawnSync(process.execPath, ['-e', '0']).pid;
    expect(isStale(fresh({ pid: exited }))).toBe(true);
  });

  it.skipIf(!onLinux)('a pid running now but started at another time (reused after a crash) does not', () => {
    expect(isStale(fresh({ start: `${Number(selfStart) - 1}` }))).toBe(true);
  });

  it.skipIf(!onLinux)('a lock from before a reboot does not, whatever runs under its pid now', () => {
    expect(isStale(fresh({ boot: '00000000-0000-0000-0000-000000000000' }))).toBe(true);
  });

  it('a process on another host may still run: it holds it', () => {
    const exited = spawnSync(process.execPath, ['-e', '0']).pid;
    expect(isStale(fresh({ pid: exited, host: 'elsewhere.example' }))).toBe(false);
  });

  it('a lock file that names no writer (still so after lockArchive read it again for 0.2 s) does not: locks are linked in place whole', () => {
    expect(isStale({})).toBe(true);
  });
});

describe('lockArchive', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prune-archive-lock-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a second lock of the same archive is LockBusyError; released, it can be taken again', async () => {
    const archive = join(dir, 'a.ndjson');
    const first = await lockArchive(archive, { table: 's.one' });
    expect(JSON.parse(await readFile(`${archive}.lock`, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname(), table: 's.one' });
    await expect(lockArchive(archive, { table: 's.two' })).rejects.toThrow(LockBusyError);
    expect(await first.held()).toBe(true);
    await first.release();
    const second = await lockArchive(archive, { table: 's.two' });
    await second.release();
  });

  it('an empty lock file made just now (by a writer killed as it created it) is removed and taken', async () => {
    const archive = join(dir, 'b.ndjson');
    await writeFile(`${archive}.lock`, '');
    const lock = await lockArchive(archive, { table: 's.one' });
    expect(await lock.held()).toBe(true);
    await lock.release();
  });

  it('the temporary files of killed attempts are removed by the next holder: a dead pid at once, any other after 10 s', async () => {
    const archive = join(dir, 'c.ndjson');
    const exited = spawnSync(process.execPath, ['-e', '0']).pid;
    const dead = `${archive}.lock.${hostname()}.${exited}.tmp`;
    const remote = `${archive}.lock.elsewhere.example.${exited}.tmp`;
    const remoteOld = `${archive}.lock.elsewhere.example.1.tmp`;
    for (const file of [dead, remote, remoteOld]) await writeFile(file, '{"pid":');
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(remoteOld, minuteAgo, minuteAgo);
    const lock = await lockArchive(archive, { table: 's.one' });
    await lock.release();
    expect((await readdir(dir)).filter((name) => name.startsWith('c.ndjson')).sort()).toEqual([`c.ndjson.lock.elsewhere.example.${exited}.tmp`]);
  });
});
