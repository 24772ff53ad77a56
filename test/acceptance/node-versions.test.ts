import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli, startCli } from '../support/cli.js';
import { createDefaultTable, createTestDatabase, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';
import { interruptAtOnce, waitFor } from '../support/wait.js';

// What changes between Node.js 20, 22 and 24 for the built binary: warnings Node prints on stderr, and the compile
// cache bin/api7-audit.js turns on from 22. .ci/run runs this file on 22 and 24 (test/node-versions.config.ts).
const run = promisify(execFile);
const VERSION = `${(JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}\n`;
const hasCompileCache = 'enableCompileCache' in module;
const NODE_WARNING = /\(node:\d+\)|Warning:|DEP0\d+/;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'api7-audit-node-versions-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('the Node.js that runs the binary', () => {
  // .ci/run sets API7_AUDIT_TEST_NODE_VERSION on 22 and 24: the subset must not quietly run on 20 instead.
  it.runIf(process.env.API7_AUDIT_TEST_NODE_VERSION)('is the version CI asked for, also as `node` on PATH (the shebang)', async () => {
    const wanted = `v${process.env.API7_AUDIT_TEST_NODE_VERSION}`;
    expect(process.version).toBe(wanted);
    expect((await run(process.execPath, ['--version'])).stdout.trim()).toBe(wanted);
    expect((await run('sh', ['-c', 'node --version'])).stdout.trim()).toBe(wanted);
    // As installed: the file run by its `#!/usr/bin/env node` line.
    expect((await run(BIN, ['--version'], { env: { PATH: process.env.PATH } })).stdout).toBe(VERSION);
  });
});

describe('no warning from Node.js on stderr, deprecations still pending included (built binary, real server)', () => {
  let schema: TestSchema;
  let hec: { server: FakeServer; hec: FakeHec };
  let ids: string[];
  // Node warns once per process: each command runs in its own, with the deprecations Node will turn on next.
  const env = { NODE_OPTIONS: '--pending-deprecation', HOME: '/nonexistent' };
  const db = () => ['--db', databaseUrl(), '--table', schema.table()];

  beforeAll(async () => {
    schema = await createTestSchema('node_versions');
    await createDefaultTable(schema);
    ids = await insertRows(
      schema,
      Array.from({ length: 30 }, (_, i) => ({
        age: `${(i + 1) * 3} days`,
        operator: 'ops',
        operation: i % 2 ? 'update' : 'create',
        resource_type: 'route',
        resource_id: 'r1',
        after: { uri: `/v${i}`, plugins: { 'key-auth': { key: 'secret-key-value' } } },
      })),
    );
    hec = await FakeHec.start();
  });
  afterAll(async () => {
    await hec.server.close();
    await schema.drop();
  });

  const commands: [string, () => string[], number?][] = [
    ['--help', () => ['--help']],
    ['--version', () => ['--version']],
    ['a bad flag (exit 2)', () => ['--bogus'], 2],
    ['list', () => [...db(), 'list', '--since', '30d', '-o', 'json']],
    ['show', () => [...db(), 'show', ids[3] as string]],
    ['history', () => [...db(), 'history', 'route:r1']],
    ['stats', () => [...db(), 'stats', '--since', '120d']],
    ['export --out -', () => [...db(), 'export', '--out', '-']],
    ['prune --dry-run', () => [...db(), 'prune', '--retention-days', '30', '--dry-run']],
    ['doctor', () => [...db(), 'doctor']],
    ['completion bash', () => ['completion', 'bash']],
  ];
  it.each(commands)('%s', async (_name, argv, code = 0) => {
    const result = await spawnCli(argv(), { env });
    expect(result.code, result.stderr).toBe(code);
    expect(result.stderr).not.toMatch(NODE_WARNING);
  });

  it('export to a HEC over HTTP (undici), every entry delivered', async () => {
    const result = await spawnCli([...db(), 'export', '--hec-url', hec.server.url], { env: { ...env, API7_AUDIT_HEC_TOKEN: 'hec-token' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(NODE_WARNING);
    expect(hec.hec.ids.unique).toBe(30);
  });

  it('follow until Ctrl-C', async () => {
    const follow = startCli([...db(), 'follow', '--since', '120d', '-o', 'ndjson', '--interval', '100ms', '--settle', '0'], { env });
    await waitFor(() => follow.stdout().split('\n').length > 30, 30_000, 'follow to print the 30 entries');
    const result = await interruptAtOnce(follow);
    expect(result.stderr).not.toMatch(NODE_WARNING);
  });

  it('--demo (the embedded PGlite database)', async () => {
    const result = await spawnCli(['--demo', 'list', '--since', '7d', '--limit', '3'], { env, timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ID\s+TIME/);
    expect(result.stderr).not.toMatch(NODE_WARNING);
  }, 120_000);
});

/** Every file under `dir`, with the mode bits of each directory on its way, for "who else could write here". */
async function filesUnder(dir: string, within: { path: string; mode: number }[] = []): Promise<{ path: string; dirs: { path: string; mode: number }[] }[]> {
  const out: { path: string; dirs: { path: string; mode: number }[] }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path, [...within, { path, mode: (await stat(path)).mode }])));
    else out.push({ path, dirs: within });
  }
  return out;
}

describe('the compile cache (Node.js 22.1+; nothing at all on 20)', () => {
  const version = () => spawnCli(['--version'], { env: { TMPDIR: join(scratch, 'tmp'), HOME: join(scratch, 'home') }, cwd: join(scratch, 'cwd') });

  it('is written only into directories no other user can write, and nowhere else (not the working directory, not HOME)', async () => {
    for (const dir of ['tmp', 'home', 'cwd']) await mkdir(join(scratch, dir), { recursive: true });
    await chmod(join(scratch, 'tmp'), 0o1777); // as /tmp is
    // Another user's directories, made before ours: Node's own default name, open to all.
    await mkdir(join(scratch, 'tmp', 'node-compile-cache'), { mode: 0o777 });
    await chmod(join(scratch, 'tmp', 'node-compile-cache'), 0o777);
    for (let i = 0; i < 2; i += 1) {
      const result = await version();
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
    }
    expect(await readdir(join(scratch, 'home'))).toEqual([]);
    expect(await readdir(join(scratch, 'cwd'))).toEqual([]);
    const written = await filesUnder(join(scratch, 'tmp'));
    if (!hasCompileCache) return expect(written).toEqual([]);
    expect(written.length, 'the cache is still used').toBeGreaterThan(0);
    for (const file of written) for (const dir of file.dirs) expect(dir.mode & 0o022, `${file.path}: ${dir.path} is writable by others`).toBe(0);
  });

  it('NODE_DISABLE_COMPILE_CACHE=1 writes nothing; a TMPDIR that cannot be used changes nothing the user sees', async () => {
    const tmp = join(scratch, 'disabled');
    await mkdir(tmp);
    const disabled = await spawnCli(['--version'], { env: { TMPDIR: tmp, NODE_DISABLE_COMPILE_CACHE: '1' } });
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(await readdir(tmp)).toEqual([]);
    await writeFile(join(scratch, 'a-file'), '');
    for (const unusable of [join(scratch, 'a-file', 'tmp'), join(scratch, 'missing')]) {
      const result = await spawnCli(['--version'], { env: { TMPDIR: unusable } });
      expect(result).toEqual({ code: 0, stdout: VERSION, stderr: '' });
    }
  });

  // The attack: a local user creates Node's default cache directory first and plants compiled code in it for the
  // bundle; root's next prune from cron would run it. Node checks only a CRC of the source and its length.
  it.runIf(hasCompileCache)('code planted in $TMPDIR/node-compile-cache is never run', async () => {
    const tmp = join(scratch, 'attack-tmp');
    const planted = join(tmp, 'node-compile-cache');
    const marker = join(scratch, 'planted-code-ran');
    await mkdir(planted, { recursive: true, mode: 0o777 });
    await chmod(tmp, 0o1777);
    await chmod(planted, 0o777);

    // The entry Node keeps for dist/main.js: its file name and header, as the attacker can learn them.
    const source = await readFile(new URL('../../dist/main.js', import.meta.url), 'utf8');
    await spawnCli(['--version'], { env: { NODE_COMPILE_CACHE: planted } });
    const entries = await Promise.all((await filesUnder(planted)).map(async (file) => ({ path: file.path, bytes: await readFile(file.path) })));
    const target = entries.find(({ bytes }) => bytes.readUInt32LE(12) === crc32(source));
    expect(target, `a cache entry for dist/main.js among ${entries.length}`).toBeDefined();

    // Other code of the same length, compiled by the same Node, under the real entry's header.
    const evilDir = join(scratch, 'evil');
    await mkdir(evilDir);
    const head = `import{writeFileSync}from'node:fs';writeFileSync(${JSON.stringify(marker)},'');export async function runProcess(){}//`;
    await writeFile(join(evilDir, 'main.mjs'), head.padEnd(source.length, 'x'));
    await run(process.execPath, [join(evilDir, 'main.mjs')], { env: { PATH: process.env.PATH, NODE_COMPILE_CACHE: join(evilDir, 'cache') } });
    await rm(marker);
    const [evil] = await Promise.all((await filesUnder(join(evilDir, 'cache'))).map((file) => readFile(file.path)));
    const payload = (evil as Buffer).subarray(20);
    const header = Buffer.from((target as { bytes: Buffer }).bytes.subarray(0, 20));
    header.writeUInt32LE(payload.length, 8);
    header.writeUInt32LE(crc32(payload), 16);
    await writeFile((target as { path: string }).path, Buffer.concat([header, payload]));

    // The forgery works where a user points Node at that directory on purpose: the test still models the attack.
    await spawnCli(['--version'], { env: { NODE_COMPILE_CACHE: planted } });
    await expect(stat(marker), 'the forged entry runs under NODE_COMPILE_CACHE').resolves.toBeDefined();
    await rm(marker);

    const result = await spawnCli(['--version'], { env: { TMPDIR: tmp } });
    await expect(stat(marker), 'the planted code ran').rejects.toThrow(/ENOENT/);
    expect(result).toEqual({ code: 0, stdout: VERSION, stderr: '' });
  });
});

// Node.js 24's readline also ends a line at U+2028 and U+2029, which JSON.stringify leaves raw inside strings.
describe.skipIf(isEmbedded())('NDJSON read back: a value holding U+2028 or U+2029 stays one line (built binary, real server)', () => {
  it('prune --archive with --seal-store, then verify --archive: intact, every archived entry matched', async () => {
    const database = await createTestDatabase('node_versions_ls');
    const schema = await createTestSchema('node_versions_ls', database.url);
    try {
      await createDefaultTable(schema);
      await insertRows(schema, [
        { age: '100 days', operator: 'ops', operation: 'update', resource_type: 'route', resource_id: 'r1', resource_name: 'line\u2028separator', after: { desc: 'paragraph\u2029separator' } },
        { age: '90 days', operator: 'ops', operation: 'update', resource_type: 'route', resource_id: 'r1' },
        { age: '1 day', operator: 'ops', operation: 'update', resource_type: 'route', resource_id: 'r1', resource_name: 'kept\u2028too' },
      ]);
      const key = join(scratch, 'ls.key');
      const store = join(scratch, 'ls-store');
      const archive = join(scratch, 'ls-archive.ndjson');
      await mkdir(store);
      const base = ['--db', database.url, '--table', schema.table()];
      expect((await spawnCli(['seal', '--new-key', '--key', key])).code).toBe(0);
      const sealed = await spawnCli([...base, 'seal', '--key', key, '--store', store]);
      expect(sealed.code, sealed.stderr).toBe(0);
      const pruned = await spawnCli([...base, 'prune', '--retention-days', '30', '--yes', '--seal-store', store, '--seal-key', key, '--archive', archive, '--show-secrets']);
      expect(pruned.code, pruned.stderr).toBe(0);
      expect((await readFile(archive, 'utf8')).trim().split('\n')).toHaveLength(2);
      const verified = await spawnCli([...base, 'verify', '--public-key', `${key}.pub`, '--store', store, '--archive', archive, '--json']);
      expect(verified.code, verified.stderr).toBe(0);
      expect((JSON.parse(verified.stdout) as { seals: unknown[] }).seals[0]).toMatchObject({ status: 'intact', present: 1, pruned: 2, archived: 2 });
    } finally {
      await schema.drop();
      await database.drop();
    }
  }, 60_000);
});
