import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint, removeStaleTemps, writeCheckpoint, type CheckpointCoverage } from '../../src/delivery/checkpoint.js';
import { RuntimeError, UsageError } from '../../src/errors.js';

let dir: string;
const coverage: CheckpointCoverage = { destination: 'splunk', filters: {}, guard: 'open-transactions' };
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-ckpt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkpoint file', () => {
  it('is absent before the first run: start from the beginning', async () => {
    expect(await readCheckpoint(join(dir, 'none.json'))).toBeUndefined();
  });

  it('round-trips a position and its coverage in the documented format (version 2), mode 0600', async () => {
    const file = join(dir, 'ckpt.json');
    const position = { timestamp: '2026-11-25T18:54:49.014123Z', id: '9007199254740993' };
    const filtered: CheckpointCoverage = { destination: 'file', filters: { '--operator': ['user1'] }, guard: 'settle' };
    await writeCheckpoint(file, position, filtered, new Date('2026-11-26T00:00:00Z'));
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      version: 2, ...position, updated_at: '2026-11-26T00:00:00.000Z',
      destination: 'file', filters: { '--operator': ['user1'] }, late_commit_guard: 'settle',
    });
    expect(await readCheckpoint(file)).toEqual({ version: 2, position, coverage: filtered });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('reads a version-1 file as a position without coverage', async () => {
    const file = join(dir, 'ckpt.json');
    await writeFile(file, '{"version":1,"timestamp":"2026-11-25T18:54:49.014123Z","id":"7","updated_at":"x"}');
    expect(await readCheckpoint(file)).toEqual({ version: 1, position: { timestamp: '2026-11-25T18:54:49.014123Z', id: '7' }, coverage: undefined });
  });

  it.each([
    ['2026-10-04T20:39:00+14:00', '2026-10-04T06:39:00.000000Z'],
    ['2026-10-04T00:39:00.5-0230', '2026-10-04T03:09:00.500000Z'],
    ['2026-10-04T06:39:00.123456000Z', '2026-10-04T06:39:00.123456Z'],
    ['2026-01-01T00:30:00+01:00', '2025-12-31T23:30:00.000000Z'],
  ])('normalizes the timestamp %s to UTC with microseconds (%s)', async (timestamp, expected) => {
    const file = join(dir, 'ckpt.json');
    await writeFile(file, JSON.stringify({ version: 1, timestamp, id: '1' }));
    expect((await readCheckpoint(file))?.position.timestamp).toBe(expected);
  });

  it('removes the temporary files killed runs left for this checkpoint, and only those', async () => {
    const file = join(dir, 'ckpt.json');
    const stale = ['.ckpt.json.0123456789ab.tmp', '.ckpt.json.ffffffffffff.tmp'];
    const kept = ['.other.json.0123456789ab.tmp', '.ckpt.json.notmine.tmp', 'ckpt.json.0123456789ab.tmp', '.ckpt.json.0123456789ab.tmp.bak'];
    for (const name of [...stale, ...kept]) await writeFile(join(dir, name), 'x');
    await removeStaleTemps(file);
    expect((await readdir(dir)).sort()).toEqual([...kept].sort());
  });

  it('replaces the target of a symlinked checkpoint, keeping the link', async () => {
    const real = join(dir, 'real.json');
    const link = join(dir, 'link.json');
    await writeCheckpoint(real, { timestamp: '2026-11-25T18:54:49.000001Z', id: '1' }, coverage);
    await symlink('real.json', link);
    await writeCheckpoint(link, { timestamp: '2026-11-25T18:54:50.000002Z', id: '2' }, coverage);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('real.json');
    expect((await readCheckpoint(real))?.position.id).toBe('2');
    // A dangling link names the file to create.
    const dangling = join(dir, 'dangling.json');
    await symlink('created.json', dangling);
    await writeCheckpoint(dangling, { timestamp: '2026-11-25T18:54:50.000002Z', id: '3' }, coverage);
    expect((await readCheckpoint(join(dir, 'created.json')))?.position.id).toBe('3');
    expect((await lstat(dangling)).isSymbolicLink()).toBe(true);
  });

  it('replaces the old file atomically and leaves no temporary file', async () => {
    const file = join(dir, 'ckpt.json');
    await writeCheckpoint(file, { timestamp: '2026-11-25T18:54:49.000001Z', id: '1' }, coverage);
    await writeCheckpoint(file, { timestamp: '2026-11-25T18:54:50.000002Z', id: '2' }, coverage);
    expect((await readCheckpoint(file))?.position).toEqual({ timestamp: '2026-11-25T18:54:50.000002Z', id: '2' });
    expect(await readdir(dir)).toEqual(['ckpt.json']);
  });

  it('reports a write into a missing directory as a RuntimeError naming the file', async () => {
    const file = join(dir, 'missing', 'ckpt.json');
    const error = await writeCheckpoint(file, { timestamp: '2026-11-25T18:54:49Z', id: '1' }, coverage).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toContain(file);
  });

  it.each([
    ['not JSON', '{"version":1,', 'not valid JSON'],
    ['wrong version', '{"version":3,"timestamp":"2026-11-25T18:54:49Z","id":"1"}', '"version" must be 1 or 2'],
    ['version 2 without coverage', '{"version":2,"timestamp":"2026-11-25T18:54:49Z","id":"1"}', '"late_commit_guard"'],
    ['nanoseconds', '{"version":1,"timestamp":"2026-11-25T18:54:49.1234567Z","id":"1"}', 'microsecond'],
    ['no zone', '{"version":1,"timestamp":"2026-11-25T18:54:49","id":"1"}', '"timestamp"'],
    ['February 31st', '{"version":1,"timestamp":"2026-02-31T18:54:49Z","id":"1"}', '"timestamp"'],
    ['an offset of 16 hours', '{"version":1,"timestamp":"2026-02-01T18:54:49+16:00","id":"1"}', '"timestamp"'],
    ['bad timestamp', '{"version":1,"timestamp":"yesterday","id":"1"}', '"timestamp"'],
    ['numeric id', '{"version":1,"timestamp":"2026-11-25T18:54:49Z","id":1}', '"id"'],
    ['an array', '[]', 'malformed'],
  ])('rejects a malformed file (%s) with a UsageError naming it', async (_name, content, expected) => {
    const file = join(dir, 'ckpt.json');
    await writeFile(file, content);
    const error = await readCheckpoint(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain(expected);
  });
});
