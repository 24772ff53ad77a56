import { spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli, startProcess, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import { seededRandom } from '../support/fake-server.js';

// Files holding entries (export --out, prune --archive): what is there already is never destroyed, what is created
// is private, links are refused, a torn tail of a killed run is cut, and bad paths fail before anything happens.
// Every case spawns the built binary (npm run build first).

const OLD = 40;
const RECENT = 5;
const schemas: TestSchema[] = [];
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-files-'));
});
afterEach(async () => {
  await Promise.all(schemas.splice(0).map((schema) => schema.drop()));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function seeded(): Promise<TestSchema> {
  const schema = await createTestSchema('files');
  schemas.push(schema);
  await createDefaultTable(schema);
  await insertRows(schema, Array.from({ length: OLD }, (_, i) => ({ age: `${100 + i} days`, operator: 'old', operation: 'update', after: { n: i, password: 'hunter2-secret' } })));
  await insertRows(schema, Array.from({ length: RECENT }, (_, i) => ({ age: `${i + 1} hours`, operator: 'new', operation: 'create' })));
  return schema;
}

const fresh = (name: string) => join(dir, `${(n += 1)}-${name}`);
const db = (schema: TestSchema) => ['--db', databaseUrl(), '--table', schema.table()];
const prune = (schema: TestSchema, ...args: string[]) => spawnCli([...db(schema), 'prune', '--retention-days', '30', '--yes', ...args]);
const exportTo = (schema: TestSchema, ...args: string[]) => spawnCli([...db(schema), 'export', ...args]);
const count = async (schema: TestSchema) => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()}`)).rows[0]?.n);
const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
const idsOf = (text: string) => text.split('\n').filter(Boolean).map((line) => String((JSON.parse(line) as { id: unknown }).id));
const errorLines = (result: CliResult) => result.stderr.trim().split('\n');

/** Spawns the binary under `umask 000`, as a user whose shell creates world-writable files. */
function spawnWithUmask000(args: string[]): Promise<CliResult> {
  const quoted = [process.execPath, BIN, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  return startProcess('sh', ['-c', `umask 000; exec ${quoted}`]).result;
}

describe('a file that is not entries of this tool is never cut or appended to', () => {
  const foreign = ['{"name":"settings","debug":true}', '{"id": 7, "note": "not an entry"}', 'my notes\nno newline at the end', '[1,2,3]\n'];

  it.each(foreign)('prune --archive refuses %j, deletes nothing and leaves it as it was', async (content) => {
    const schema = await seeded();
    const path = fresh('settings.json');
    await writeFile(path, content, { mode: 0o644 });
    await chmod(path, 0o644);
    const result = await prune(schema, '--archive', path);
    expect(result.code, result.stderr).toBe(2);
    expect(errorLines(result)).toHaveLength(1);
    expect(result.stderr).toContain(path);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await readFile(path, 'utf8')).toBe(content);
    expect(await modeOf(path)).toBe(0o644);
    expect(await count(schema)).toBe(OLD + RECENT);
  });

  it.each(foreign)('export --out refuses %j and leaves it as it was', async (content) => {
    const schema = await seeded();
    const path = fresh('notes.ndjson');
    await writeFile(path, content);
    await chmod(path, 0o644);
    const result = await exportTo(schema, '--out', path);
    expect(result.code, result.stderr).toBe(2);
    expect(errorLines(result)).toHaveLength(1);
    expect(result.stderr).toContain(path);
    expect(await readFile(path, 'utf8')).toBe(content);
    expect(await modeOf(path)).toBe(0o644);
  });

  it('a gzip file whose content is not NDJSON entries is refused by both', async () => {
    const schema = await seeded();
    const path = fresh('report.json.gz');
    const content = gzipSync('{"report":"quarterly"}');
    await writeFile(path, content);
    for (const result of [await prune(schema, '--archive', path), await exportTo(schema, '--out', path)]) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(path);
    }
    expect((await readFile(path)).equals(content)).toBe(true);
    expect(await count(schema)).toBe(OLD + RECENT);
  });

  it('a genuinely torn last line of a real archive is cut, and the run appends whole entries after it', async () => {
    const schema = await seeded();
    const path = fresh('archive.ndjson');
    const first = await prune(schema, '--archive', path, '--batch-size', '10');
    expect(first.code, first.stderr).toBe(0);
    const archived = await readFile(path, 'utf8');
    expect(idsOf(archived)).toHaveLength(OLD);
    // A later run was killed while writing: half an entry and no newline.
    const lines = archived.trimEnd().split('\n');
    await writeFile(path, `${archived}${(lines.at(-1) ?? '').slice(0, 25)}`);
    await insertRows(schema, [{ age: '200 days', operator: 'late', operation: 'delete' }]);
    const second = await prune(schema, '--archive', path);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('cut a torn last line');
    const text = await readFile(path, 'utf8');
    expect(idsOf(text)).toHaveLength(OLD + 1); // every line parses: the torn piece is gone
  });

  it('export --out appends after an existing export file, and cuts a torn last line of one', async () => {
    const schema = await seeded();
    const path = fresh('export.ndjson');
    const first = await exportTo(schema, '--out', path, '--operator', 'new');
    expect(first.code, first.stderr).toBe(0);
    const before = await readFile(path, 'utf8');
    await writeFile(path, `${before}{"id":12,"timestamp":"2026-`);
    const again = await exportTo(schema, '--out', path, '--operator', 'new');
    expect(again.code, again.stderr).toBe(0);
    expect(idsOf(await readFile(path, 'utf8'))).toHaveLength(2 * RECENT);
  });
});

describe('files holding entries are private', () => {
  it('export --out and prune --archive create 0600 files under umask 000, with --show-secrets too', async () => {
    const schema = await seeded();
    const out = fresh('secrets.ndjson');
    const gz = fresh('secrets.ndjson.gz');
    const archive = fresh('archive.ndjson.gz');
    for (const args of [['--show-secrets', '--out', out], ['--out', gz]]) {
      const result = await spawnWithUmask000([...db(schema), 'export', ...args]);
      expect(result.code, result.stderr).toBe(0);
    }
    const pruned = await spawnWithUmask000([...db(schema), 'prune', '--retention-days', '30', '--yes', '--show-secrets', '--archive', archive]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toContain('hunter2-secret');
    for (const path of [out, gz, archive]) expect(await modeOf(path)).toBe(0o600);
  });

  it('an existing file of this user open to others is narrowed to 0600, with a warning', async () => {
    const schema = await seeded();
    const out = fresh('wide.ndjson');
    const archive = fresh('wide-archive.ndjson');
    await writeFile(out, '');
    await writeFile(archive, '');
    await chmod(out, 0o666);
    await chmod(archive, 0o644);
    const exported = await exportTo(schema, '--out', out);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/warning: --out '.*wide\.ndjson' was open to other users \(mode 0666\); narrowed to 0600/);
    const pruned = await prune(schema, '--archive', archive);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stderr).toMatch(/warning: --archive .* \(mode 0644\); narrowed to 0600/);
    expect(await modeOf(out)).toBe(0o600);
    expect(await modeOf(archive)).toBe(0o600);
  });

  // Only root can give a file to another user; as anyone else the case cannot be set up.
  it.skipIf(process.getuid?.() !== 0)('another user\'s file open to others is refused: exit 2, nothing written, nothing deleted', async () => {
    const schema = await seeded();
    const out = fresh('shared.ndjson');
    const archive = fresh('shared-archive.ndjson');
    for (const path of [out, archive]) {
      await writeFile(path, '');
      await chown(path, 65534, 65534);
      await chmod(path, 0o666);
    }
    const exported = await exportTo(schema, '--out', out);
    const pruned = await prune(schema, '--archive', archive);
    for (const result of [exported, pruned]) {
      expect(result.code, result.stderr).toBe(2);
      expect(errorLines(result)).toHaveLength(1);
      expect(result.stderr).toMatch(/open to other users \(mode 0666\) and owned by uid 65534/);
    }
    for (const path of [out, archive]) {
      expect(await modeOf(path)).toBe(0o666);
      expect((await stat(path)).size).toBe(0);
    }
    expect(await count(schema)).toBe(OLD + RECENT);
  });

  it('a symbolic link is refused (exit 2, pass the real path), and what it points to is untouched', async () => {
    const schema = await seeded();
    const target = fresh('elsewhere.ndjson');
    await writeFile(target, '');
    await chmod(target, 0o644);
    const outLink = fresh('out-link.ndjson');
    const archiveLink = fresh('archive-link.ndjson.gz');
    const dangling = fresh('dangling.ndjson');
    await symlink(target, outLink);
    await symlink(target, archiveLink);
    await symlink(join(dir, 'nowhere', 'x.ndjson'), dangling);
    for (const result of [await exportTo(schema, '--out', outLink), await prune(schema, '--archive', archiveLink), await exportTo(schema, '--out', dangling)]) {
      expect(result.code, result.stderr).toBe(2);
      expect(errorLines(result)).toHaveLength(1);
      expect(result.stderr).toMatch(/is a symbolic link; .*pass the real path/);
    }
    expect((await stat(target)).size).toBe(0);
    expect(await modeOf(target)).toBe(0o644);
    expect((await lstat(dangling)).isSymbolicLink()).toBe(true);
    expect(await count(schema)).toBe(OLD + RECENT);
  });
});

describe('a torn gzip member is cut, the same way for --out and --archive', () => {
  const entryLine = (id: number) => JSON.stringify({ id, timestamp: '2026-01-01T00:00:00Z', operator: 'x', operation: 'update' });

  it('prune --archive FILE.gz after a torn member: the member is cut and the archive reads back whole', async () => {
    const schema = await seeded();
    const path = fresh('pruned.ndjson.gz');
    const whole = gzipSync(`${entryLine(1)}\n`);
    const torn = gzipSync(`${entryLine(2)}\n${entryLine(3)}\n`);
    await writeFile(path, Buffer.concat([whole, torn.subarray(0, torn.length - 12)]));
    const result = await prune(schema, '--archive', path);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('cut a torn last gzip member');
    expect(idsOf(gunzipSync(await readFile(path)).toString('utf8'))).toEqual(['1', ...Array.from({ length: OLD }, () => expect.any(String))]);
  });

  it('export --out FILE.gz after a torn member: the member is cut and the file reads back whole', async () => {
    const schema = await seeded();
    const path = fresh('export.ndjson.gz');
    const first = await exportTo(schema, '--out', path, '--operator', 'new');
    expect(first.code, first.stderr).toBe(0);
    const torn = gzipSync(`${entryLine(2)}\n${entryLine(3)}\n`);
    await writeFile(path, Buffer.concat([await readFile(path), torn.subarray(0, 20)]));
    const again = await exportTo(schema, '--out', path, '--operator', 'new');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('cut a torn last gzip member');
    expect(idsOf(gunzipSync(await readFile(path)).toString('utf8'))).toHaveLength(2 * RECENT);
  });

  it('a damaged member with whole members after it is refused, not cut', async () => {
    const schema = await seeded();
    const path = fresh('damaged.ndjson.gz');
    const first = gzipSync(`${entryLine(1)}\n${entryLine(2)}\n`.repeat(50));
    const content = Buffer.concat([first.subarray(0, first.length - 20), gzipSync(`${entryLine(3)}\n`)]);
    await writeFile(path, content);
    for (const result of [await prune(schema, '--archive', path), await exportTo(schema, '--out', path)]) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(path);
    }
    expect((await readFile(path)).equals(content)).toBe(true);
    expect(await count(schema)).toBe(OLD + RECENT);
  });

  it('export --out FILE.gz with a checkpoint, killed -9 at random moments: each rerun accepts the file it left, which reads back whole with every entry', async () => {
    const schema = await createTestSchema('files_kill');
    schemas.push(schema);
    await createDefaultTable(schema);
    const total = 30_000;
    // md5 text compresses about as little as real entries do, so each member takes a while to write.
    await schema.query(
      `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, after)
       select now() - interval '1 hour' + g * interval '1 ms', 'u', 'update', 'route', 'r-' || g, jsonb_build_object('pad', repeat(md5(g::text), 12), 'n', g)
       from generate_series(1, ${total}) g`,
    );
    const path = fresh('killed.ndjson.gz');
    const checkpoint = fresh('killed.json');
    const args = [...db(schema), 'export', '--out', path, '--checkpoint', checkpoint, '--batch-size', '3000'];
    const random = seededRandom(11);
    for (let kill = 0; kill < 5; kill += 1) {
      const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH }, stdio: 'ignore' });
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.floor(random() * 1200)));
      child.kill('SIGKILL');
      await closed;
    }
    // A kill -9 rarely tears a member (a write to the page cache completes); the torn cases are built above.
    const last = await spawnCli(args);
    expect(last.code, last.stderr).toBe(0);
    const ids = idsOf(gunzipSync(await readFile(path)).toString('utf8'));
    expect(new Set(ids).size).toBe(total);
  }, 180_000);
});

describe('paths that cannot be written fail before anything is sent or deleted', () => {
  let hec: Awaited<ReturnType<typeof FakeHec.start>>;
  beforeAll(async () => {
    hec = await FakeHec.start({ token: 'files-test-hec-token' });
  });
  afterAll(() => hec.server.close());

  it('export --checkpoint in a missing directory: exit 2 naming it, and HEC received nothing', async () => {
    const schema = await seeded();
    const checkpoint = join(dir, 'missing', 'dir', 'c.json');
    const result = await spawnCli([...db(schema), 'export', '--hec-url', hec.server.url, '--checkpoint', checkpoint], {
      env: { API7_AUDIT_HEC_TOKEN: 'files-test-hec-token' },
    });
    expect(result.code, result.stderr).toBe(2);
    expect(errorLines(result)).toEqual([`error: cannot write --checkpoint '${checkpoint}': directory '${join(dir, 'missing', 'dir')}' does not exist`]);
    expect(hec.server.requestCount).toBe(0);
  });

  it('export --out in a missing directory, or a directory: exit 2 naming it', async () => {
    const schema = await seeded();
    const out = join(dir, 'missing', 'out.ndjson');
    const result = await exportTo(schema, '--out', out);
    expect(result.code, result.stderr).toBe(2);
    expect(errorLines(result)).toEqual([`error: cannot write --out '${out}': directory '${join(dir, 'missing')}' does not exist`]);
    const isDir = await exportTo(schema, '--out', dir);
    expect(isDir.code, isDir.stderr).toBe(2);
    expect(isDir.stderr).toContain(dir);
  });

  it('prune --archive in a missing directory: exit 2 naming it, nothing deleted', async () => {
    const schema = await seeded();
    const archive = join(dir, 'missing', 'a.ndjson.gz');
    const result = await prune(schema, '--archive', archive);
    expect(result.code, result.stderr).toBe(2);
    expect(errorLines(result)).toEqual([`error: cannot write --archive '${archive}': directory '${join(dir, 'missing')}' does not exist`]);
    expect(await count(schema)).toBe(OLD + RECENT);
  });
});
