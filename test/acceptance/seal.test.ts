import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestDatabase, createTestSchema, insertRows, isEmbedded, type SeedRow, type TestSchema } from '../support/database.js';

const run = promisify(execFile);
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let dir: string;
let key: string;
const schemas: TestSchema[] = [];
const clients: pg.Client[] = [];

beforeAll(async () => {
  // A database of its own: a seal's bound is the start of the oldest open transaction in the database.
  database = await createTestDatabase('seal');
  dir = await mkdtemp(join(tmpdir(), 'api7-seal-'));
  key = join(dir, 'seal.key');
  const created = await spawnCli(['seal', '--new-key', '--key', key]);
  expect(created.code, created.stderr).toBe(0);
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  await Promise.all(schemas.map((schema) => schema.drop()));
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

interface Fixture {
  schema: TestSchema;
  store: string;
  ids: string[];
  seal(...extra: string[]): Promise<CliResult>;
  verify(...extra: string[]): Promise<CliResult>;
  verifyJson(...extra: string[]): Promise<{ result: CliResult; report: Report }>;
}

interface Problem {
  kind: string;
  id?: string;
  file?: string;
  fields?: string[];
  position?: number;
  previous?: { id: string } | null;
  next?: { id: string } | null;
}
interface Report {
  intact: boolean;
  seals: { seq: number; status: string; present: number; pruned: number; archived: number; problems: Problem[] }[];
  problems: Problem[];
  prune_cutoff: string | null;
  unsealed: number;
}

/** Rows a minute apart, the newest a minute old: all before any seal's bound. */
function rows(count: number, extra: (i: number) => Partial<SeedRow> = () => ({})): SeedRow[] {
  return Array.from({ length: count }, (_, i) => ({
    age: `${count - i} minutes`,
    operator: i % 3 === 0 ? 'alice' : 'zoë',
    operation: 'update',
    resource_type: 'route',
    resource_id: `r-${i}`,
    source_ip: i % 2 === 0 ? '10.0.0.7' : '2001:db8::1',
    before: { uri: `/v${i}`, plugins: { 'key-auth': { key: `secret-${i}` } } },
    after: { uri: `/v${i + 1}`, note: 'line one\nline two ✓', n: 1.50 },
    ...extra(i),
  }));
}

async function fixture(name: string, seed: SeedRow[]): Promise<Fixture> {
  const schema = await createTestSchema(name, database.url);
  schemas.push(schema);
  await createDefaultTable(schema);
  const ids = await insertRows(schema, seed);
  const store = join(dir, `${name}-store`);
  await mkdir(store);
  const base = ['--db', database.url, '--table', schema.table()];
  const verify = (...extra: string[]) => spawnCli([...base, 'verify', '--public-key', `${key}.pub`, '--store', store, ...extra]);
  return {
    schema,
    store,
    ids,
    seal: (...extra) => spawnCli([...base, 'seal', '--key', key, '--store', store, ...extra]),
    verify,
    async verifyJson(...extra) {
      const result = await verify('--json', ...extra);
      return { result, report: JSON.parse(result.stdout) as Report };
    },
  };
}

describe.skipIf(isEmbedded())('seal and verify (built binary, real server)', () => {
  it('--new-key writes a private key only its owner can read, the public key beside it, and never overwrites one', async () => {
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect(await readFile(`${key}.pub`, 'utf8')).toContain('BEGIN PUBLIC KEY');
    const again = await spawnCli(['seal', '--new-key', '--key', key]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  });

  it('seals what is there, seals nothing twice, chains the next seal, and verifies intact (exit 0)', async () => {
    const f = await fixture('intact', rows(30));
    const first = await f.seal('--json');
    expect(first.code, first.stderr).toBe(0);
    const record = (JSON.parse(first.stdout) as { record: { count: number; seq: number; hash: string } }).record;
    expect(record).toMatchObject({ count: 30, seq: 1 });
    const nothing = await f.seal();
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toContain('nothing to seal');
    // Written after the first seal's bound: the next range.
    await insertRows(f.schema, rows(5).map((row) => ({ ...row, age: '0 seconds' })));
    const second = await f.seal('--json', '--settle', '0s');
    const next = (JSON.parse(second.stdout) as { record: { count: number; seq: number; previous_hash: string } }).record;
    expect(next).toMatchObject({ count: 5, seq: 2, previous_hash: record.hash });
    const { result, report } = await f.verifyJson();
    expect(result.code, result.stderr).toBe(0);
    expect(report.intact).toBe(true);
    expect(report.seals.map((seal) => [seal.status, seal.present])).toEqual([['intact', 30], ['intact', 5]]);
    const text = await f.verify();
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^intact: 2 seal ranges/m);
  });

  it('names an UPDATE of after, a DELETE in the middle, a back-dated INSERT and an edited seal file; exit 4', async () => {
    const f = await fixture('tamper', rows(40));
    expect((await f.seal()).code).toBe(0);
    await insertRows(f.schema, rows(3).map((row) => ({ ...row, age: '0 seconds' })));
    expect((await f.seal('--settle', '0s')).code).toBe(0);
    const [modified, deleted, before, after] = [f.ids[10], f.ids[20], f.ids[19], f.ids[21]] as string[];
    await f.schema.query(`update ${f.schema.table()} set after = after || '{"uri": "/evil"}' where id = $1`, [modified]);
    await f.schema.query(`delete from ${f.schema.table()} where id = $1`, [deleted]);
    const [inserted] = await insertRows(f.schema, [{ age: '25 minutes 30 seconds', operator: 'mallory', operation: 'login' }]);
    const second = join(f.store, 'seal-00000002.json');
    await writeFile(second, (await readFile(second, 'utf8')).replace('"count": 3', '"count": 2'));

    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('2 of 2 seal ranges not intact');
    expect(report.intact).toBe(false);
    const [one, two] = report.seals;
    expect(one?.status).toBe('tampered');
    expect(one?.problems).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'modified', id: modified, fields: ['after'] }),
      expect.objectContaining({ kind: 'deleted', id: deleted, position: 21, previous: expect.objectContaining({ id: before }), next: expect.objectContaining({ id: after }) }),
      expect.objectContaining({ kind: 'inserted', id: inserted }),
    ]));
    expect(one?.problems).toHaveLength(3);
    expect(two?.problems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'bad-signature', file: 'seal-00000002.json' })]));

    const text = await f.verify();
    expect(text.code).toBe(4);
    expect(text.stdout).toContain(`modified: id ${modified} `);
    expect(text.stdout).toContain(`deleted: entry 21 of the seal, id ${deleted} `);
    expect(text.stdout).toContain(`between id ${before} `);
    expect(text.stdout).toContain(`inserted: id ${inserted} `);
    expect(text.stdout).toContain('bad signature: seal-00000002.json');
  });

  it('a timestamp moved is one modified entry; a missing seal file and an edited leaves file are named', async () => {
    const f = await fixture('files', rows(12));
    expect((await f.seal()).code).toBe(0);
    for (let i = 0; i < 2; i += 1) {
      await insertRows(f.schema, rows(2).map((row) => ({ ...row, age: '0 seconds' })));
      expect((await f.seal('--settle', '0s')).code).toBe(0);
    }
    await f.schema.query(`update ${f.schema.table()} set created_at = created_at + interval '1 second' where id = $1`, [f.ids[4]]);
    await unlink(join(f.store, 'seal-00000002.json'));
    const leavesFile = (JSON.parse(await readFile(join(f.store, 'seal-00000003.json'), 'utf8')) as { leaves_file: string }).leaves_file;
    const leaves = join(f.store, leavesFile);
    const lines = (await readFile(leaves, 'utf8')).split('\n');
    // The attacker rewrites an entry's hash in the leaves to match a change: the file is no longer the signed one.
    lines[0] = lines[0]?.replace(/"[0-9a-f]{64}"/, `"${'0'.repeat(64)}"`) ?? '';
    await writeFile(leaves, lines.join('\n'));
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(4);
    expect(report.seals[0]?.problems).toEqual([expect.objectContaining({ kind: 'modified', id: f.ids[4], fields: ['timestamp'] })]);
    expect(report.seals[1]).toMatchObject({ status: 'missing', problems: [expect.objectContaining({ kind: 'missing-seal-file', file: 'seal-00000002.json' })] });
    expect(report.seals[2]?.problems).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'leaves-altered', file: leavesFile }),
      expect.objectContaining({ kind: 'modified' }),
    ]));
  });

  it('two seals racing on one store: one writes the seal, the other says so (exit 1), and the store verifies intact', async () => {
    const f = await fixture('race', rows(200));
    const results = await Promise.all([f.seal(), f.seal(), f.seal()]);
    const codes = results.map((result) => result.code).sort();
    expect(codes[0]).toBe(0);
    for (const result of results.filter((r) => r.code !== 0)) expect(result.stderr).toMatch(/already holds seal-00000001\.json: another seal ran at the same time/);
    const { result, report } = await f.verifyJson();
    expect(result.code, result.stdout).toBe(0);
    expect(report.seals).toHaveLength(1);
  });

  it('a public key that did not sign the seals fails every seal', async () => {
    const f = await fixture('otherkey', rows(3));
    expect((await f.seal()).code).toBe(0);
    const other = join(dir, 'other.key');
    expect((await spawnCli(['seal', '--new-key', '--key', other])).code).toBe(0);
    const result = await spawnCli(['--db', database.url, '--table', f.schema.table(), 'verify', '--public-key', `${other}.pub`, '--store', f.store]);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('bad signature: seal-00000001.json: signed by key');
  });

  it('an entry committed late by a transaction open during the seal goes into the next seal, not behind it', async () => {
    const f = await fixture('late', rows(5));
    const client = new pg.Client({ connectionString: database.url, application_name: 'control-plane' });
    await client.connect();
    clients.push(client);
    await client.query('begin');
    await client.query(`insert into ${f.schema.table()} (operator, operation) values ('late', 'update')`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const first = await f.seal('--settle', '0s', '--json');
    expect(first.code, first.stderr).toBe(0);
    await client.query('commit');
    const second = await f.seal('--settle', '0s', '--json');
    expect((JSON.parse(second.stdout) as { record: { count: number } }).record.count).toBe(1);
    const { result, report } = await f.verifyJson();
    expect(result.code, result.stdout).toBe(0);
    expect(report.intact).toBe(true);
  });

  it('an independent script (psql + python3) recomputes a seal hash from the documented encoding', async () => {
    const f = await fixture('independent', rows(8, (i) => (i === 3 ? { before: null, source_ip: null, resource_name: 'naïve "quoted"\ttab' } : {})));
    const sealed = await f.seal('--json');
    const record = (JSON.parse(sealed.stdout) as { record: { to: string; hash: string; previous_hash: string } }).record;
    const select = `select json_build_array(id::text, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      operator, operation, resource_type, resource_id, resource_name, source_ip::text, source, before::text, after::text)
      from ${f.schema.table()} where created_at < '${record.to}' order by created_at, id`;
    const { stdout } = await run('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', database.url, '-c', select]);
    const script = [
      'import hashlib, json, struct, sys',
      'seal = hashlib.sha256(bytes.fromhex(sys.argv[1]))',
      'for line in sys.stdin.read().splitlines():',
      '    encoding = b"".join(struct.pack(">i", -1) if v is None else struct.pack(">i", len(v.encode())) + v.encode() for v in json.loads(line))',
      '    seal.update(hashlib.sha256(encoding).digest())',
      'print(seal.hexdigest())',
    ].join('\n');
    const python = execFile('python3', ['-c', script, record.previous_hash]);
    python.stdin?.end(stdout);
    const output = await new Promise<string>((resolve, reject) => {
      let text = '';
      python.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
      python.on('close', (code) => (code === 0 ? resolve(text.trim()) : reject(new Error(`python3 exited ${code}`))));
    });
    expect(output).toBe(record.hash);
  });

  it('refuses a key others may read, and a store that does not exist (exit 2, one line)', async () => {
    const f = await fixture('refuse', rows(1));
    const open = join(dir, 'open.key');
    await writeFile(open, await readFile(key), { mode: 0o644 });
    const loose = await spawnCli(['--db', database.url, '--table', f.schema.table(), 'seal', '--key', open, '--store', f.store]);
    expect(loose.code).toBe(2);
    expect(loose.stderr).toMatch(/^error: --key '.*open\.key' is open to other users \(mode 0644\)/);
    const nowhere = await spawnCli(['--db', database.url, '--table', f.schema.table(), 'seal', '--key', key, '--store', join(dir, 'nope')]);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe.skipIf(isEmbedded())('seal, prune and verify (built binary, real server)', () => {
  const old = (count: number) => rows(count).map((row, i) => ({ ...row, age: `${100 - i} days` }));

  it('a prune with --seal-store verifies intact; its archive is checked; a deletion in the live range is tampering', async () => {
    const f = await fixture('pruned', [...old(6), ...rows(6)]);
    expect((await f.seal()).code).toBe(0);
    const archive = join(dir, 'pruned.ndjson');
    const base = ['--db', database.url, '--table', f.schema.table()];
    const pruned = await spawnCli([...base, 'prune', '--retention-days', '30', '--yes', '--json', '--seal-store', f.store, '--seal-key', key, '--archive', archive, '--show-secrets']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ deleted: 6 });

    const clean = await f.verifyJson('--archive', archive);
    expect(clean.result.code, clean.result.stdout).toBe(0);
    expect(clean.report.seals[0]).toMatchObject({ status: 'intact', present: 6, pruned: 6, archived: 6 });
    expect(clean.report.prune_cutoff).not.toBeNull();

    // An archived entry whose stored values differ from what was sealed: the archive is not the sealed entry.
    const lines = (await readFile(archive, 'utf8')).trim().split('\n');
    const edited = join(dir, 'edited.ndjson');
    await writeFile(edited, [lines[0]?.replace('"operation" : "update"', '"operation" : "delete"'), ...lines.slice(1)].join('\n'));
    const mismatch = await f.verifyJson('--archive', edited);
    expect(mismatch.result.code).toBe(4);
    expect(mismatch.report.seals[0]?.problems).toEqual([expect.objectContaining({ kind: 'archive-mismatch', id: f.ids[0] })]);

    await f.schema.query(`delete from ${f.schema.table()} where id = $1`, [f.ids[8]]);
    const tampered = await f.verifyJson();
    expect(tampered.result.code).toBe(4);
    expect(tampered.report.seals[0]?.problems).toEqual([expect.objectContaining({ kind: 'deleted', id: f.ids[8] })]);
  });

  it('entries deleted by a prune without a record, or with a forged one, are deletions', async () => {
    const f = await fixture('unrecorded', [...old(3), ...rows(3)]);
    expect((await f.seal()).code).toBe(0);
    const pruned = await spawnCli(['--db', database.url, '--table', f.schema.table(), 'prune', '--retention-days', '30', '--yes']);
    expect(pruned.code, pruned.stderr).toBe(0);
    await writeFile(join(f.store, 'prune-20990101000000-000000.json'), JSON.stringify({ format: 'api7-audit-prune/1', table: f.schema.table(), cutoff: '2099-01-01T00:00:00.000000Z', pruned_at: '2099-01-01T00:00:00Z', key_id: 'x', signature: 'AAAA' }));
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(4);
    expect(report.prune_cutoff).toBeNull();
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'bad-signature', file: 'prune-20990101000000-000000.json' })]);
    expect(report.seals[0]?.problems.filter((problem) => problem.kind === 'deleted')).toHaveLength(3);
  });

  it('prune refuses --seal-store without --seal-key before deleting anything (exit 2)', async () => {
    const f = await fixture('halfflags', old(2));
    const result = await spawnCli(['--db', database.url, '--table', f.schema.table(), 'prune', '--retention-days', '30', '--yes', '--seal-store', f.store]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--seal-store needs --seal-key FILE');
    expect((await f.schema.query(`select count(*)::int as n from ${f.schema.table()}`)).rows[0]).toEqual({ n: 2 });
  });
});
