import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestDatabase, createTestSchema, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';

// prune --only-exported attacked through the built binary (npm run build first) with checkpoints it should not
// trust: another table's, another database's, a damaged or hand-edited one, one whose position is in the future.
// The promise: nothing is deleted that the checkpoint does not prove exported, and nothing at or after the cutoff.

let schema: TestSchema;
let dir: string;
let n = 0;

beforeAll(async () => {
  schema = await createTestSchema('atk_prune_exp');
  dir = await mkdtemp(join(tmpdir(), 'attack-prune-exported-'));
  await createDefaultTable(schema);
  for (const name of ['a_logs', 'b_logs']) await schema.query(`create table ${schema.table(name)} (like ${schema.table()} including all)`);
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

// The same 150 entries in each table, one a day at 01:00 UTC for the 150 days before today (ids 1..150).
const seed = `insert into %T (id, created_at, operator) select g, date_trunc('day', now()) - make_interval(days => 151 - g) + interval '1 hour', 'user' from generate_series(1, 150) g`;
beforeEach(async () => {
  for (const name of ['audit_logs', 'a_logs', 'b_logs']) {
    await schema.query(`truncate ${schema.table(name)}`);
    await schema.query(seed.replace('%T', schema.table(name)));
  }
});

const count = async (table: string, where = 'true') => Number((await schema.query<{ n: string }>(`select count(*) n from ${table} where ${where}`)).rows[0]?.n);
const cli = (table: string, args: string[], url = databaseUrl()): Promise<CliResult> => spawnCli(['--db', url, '--table', table, ...args], { cwd: dir });
const file = (name: string) => join(dir, `${(n += 1)}-${name}.json`);
const exportAll = (table: string, checkpoint: string, url?: string) => cli(table, ['export', '--out', join(dir, `${n}-out.ndjson`), '--checkpoint', checkpoint], url);
const prune = (table: string, checkpoint: string, ...extra: string[]) => cli(table, ['prune', '--only-exported', checkpoint, '--yes', '--json', ...extra]);

/** Exit 2, one line containing `why`, no stack, nothing deleted from `table`. */
async function expectRefused(result: CliResult, table: string, why: string | RegExp): Promise<void> {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(why);
  expect(result.stdout).toBe('');
  expect(await count(table)).toBe(150);
}

describe('prune --only-exported with a checkpoint of another stream', () => {
  it("another table's checkpoint is refused: the old binary deleted the old entries of a table never exported", async () => {
    const checkpoint = file('a');
    const exported = await exportAll(schema.table('a_logs'), checkpoint);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ id: '150', source: expect.stringContaining(`${schema.table('a_logs')} in database `) });
    for (const dryRun of [[], ['--dry-run']]) {
      await expectRefused(await prune(schema.table('b_logs'), checkpoint, ...dryRun), schema.table('b_logs'), new RegExp(
        `^error: refusing --only-exported '.*': it was written by exports of ${schema.table('a_logs')} in database \\S+ \\(server \\d+\\), this prune is of ${schema.table('b_logs')} in database`,
      ));
    }
    // The table it was written for is pruned as before.
    const old = await count(schema.table('a_logs'), `created_at < now() - interval '60 days'`);
    const own = await prune(schema.table('a_logs'), checkpoint);
    expect(own.code, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout)).toMatchObject({ deleted: old, complete: true });
  });

  it("an export does not continue another table's checkpoint (it would have skipped every entry before its position)", async () => {
    const checkpoint = file('a');
    expect((await exportAll(schema.table('a_logs'), checkpoint)).code).toBe(0);
    const before = await readFile(checkpoint, 'utf8');
    const result = await exportAll(schema.table('b_logs'), checkpoint);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`was written by exports of ${schema.table('a_logs')} in database`);
    expect(await readFile(checkpoint, 'utf8')).toBe(before);
  });

  it.skipIf(isEmbedded())("the same table name in another database: that database's checkpoint is refused", async () => {
    const other = await createTestDatabase('atk_prune_exp_db');
    const client = new pg.Client({ connectionString: other.url });
    await client.connect();
    try {
      await client.query(`create schema ${schema.name}`);
      await client.query(`create table ${schema.table()} (id bigserial primary key, created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
      await client.query(seed.replace('%T', schema.table()));
      const checkpoint = file('other-db');
      const exported = await exportAll(schema.table(), checkpoint, other.url);
      expect(exported.code, exported.stderr).toBe(0);
      await expectRefused(await prune(schema.table(), checkpoint), schema.table(), /it was written by exports of .* in database t_atk_prune_exp_db_\w+ .*this prune is of .* in database /);
    } finally {
      await client.end();
      await other.drop();
    }
  });

  it('a checkpoint from before the source was recorded is still used, and the next export records it', async () => {
    const checkpoint = file('legacy');
    // As an export of version 0.1 wrote it: no "source"; its position is the entry with id 10.
    const at = (await schema.query<{ t: string }>(`select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') t from ${schema.table()} where id = 10`)).rows[0]?.t;
    const legacy = { version: 2, timestamp: at, id: '10', updated_at: '2026-01-01T00:00:00Z', destination: 'file', filters: {}, late_commit_guard: 'open-transactions' };
    await writeFile(checkpoint, JSON.stringify(legacy), { mode: 0o600 });
    const result = await prune(schema.table(), checkpoint);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: 10 });
    expect(await count(schema.table(), 'id <= 10')).toBe(0);
    expect(await count(schema.table())).toBe(140);
    expect((await exportAll(schema.table(), checkpoint)).code).toBe(0);
    expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ id: '150', source: expect.stringContaining(schema.table()) });
  });
});

describe('prune --only-exported with a damaged or hand-edited checkpoint', () => {
  const valid = async () => {
    const checkpoint = file('valid');
    expect((await exportAll(schema.table(), checkpoint)).code).toBe(0);
    return { checkpoint, content: JSON.parse(await readFile(checkpoint, 'utf8')) as Record<string, unknown> };
  };

  it.each([
    ['cut short', (text: string) => text.slice(0, text.length / 2), /is not valid JSON/],
    ['empty', () => '', /is not valid JSON/],
    ['a timestamp without a zone', (text: string) => text.replace(/"timestamp": "([^"]+)Z"/, '"timestamp": "$1"'), /"timestamp" must be an ISO 8601 time with a zone/],
    ['an id that is no id of the table', (text: string) => text.replace(/"id": "150"/, '"id": "150; drop table x"'), /holds id .* which cannot be in/],
    ['a source that is not a string', (text: string) => text.replace(/"source": "[^"]*"/, '"source": 7'), /"source" must be a string/],
  ])('%s: exit 2 naming the problem, nothing deleted', async (_name, edit, why) => {
    const { checkpoint } = await valid();
    await writeFile(checkpoint, edit(await readFile(checkpoint, 'utf8')));
    await expectRefused(await prune(schema.table(), checkpoint), schema.table(), why);
  });

  it('a position in the future: nothing at or after the cutoff goes, exactly what is before it does', async () => {
    const { checkpoint, content } = await valid();
    await writeFile(checkpoint, JSON.stringify({ ...content, timestamp: '2099-01-01T00:00:00Z', id: '999999' }));
    const old = await count(schema.table(), `created_at < now() - interval '60 days'`);
    expect(old).toBeGreaterThan(80);
    const dry = await prune(schema.table(), checkpoint, '--dry-run');
    expect(JSON.parse(dry.stdout)).toMatchObject({ matched: old, deleted: 0 });
    const result = await prune(schema.table(), checkpoint);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { cutoff: string; deleted: number };
    expect(summary.deleted).toBe(old);
    expect(await count(schema.table(), `created_at < '${summary.cutoff}'`)).toBe(0);
    expect(await count(schema.table())).toBe(150 - old);
  });
});

describe('prune --only-exported --seal-store', () => {
  it('records the checkpoint beside the cutoff: verify passes, and a deletion between the checkpoint and the cutoff is tampering', async () => {
    const key = join(dir, `${(n += 1)}-seal.key`);
    expect((await spawnCli(['seal', '--new-key', '--key', key])).code).toBe(0);
    const store = join(dir, `${n}-store`);
    await mkdir(store);
    const t = schema.table();
    const at = (await schema.query<{ t: string }>(`select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') t from ${t} where id = 30`)).rows[0]?.t;
    const checkpoint = file('sealed');
    await writeFile(checkpoint, JSON.stringify({ version: 2, timestamp: at, id: '30', updated_at: '2026-01-01T00:00:00Z', destination: 'file', filters: {}, late_commit_guard: 'open-transactions' }));
    expect((await cli(t, ['seal', '--key', key, '--store', store])).code).toBe(0);
    const pruned = await prune(t, checkpoint, '--seal-store', store, '--seal-key', key);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ deleted: 30 });
    const verify = () => cli(t, ['verify', '--public-key', `${key}.pub`, '--store', store, '--json']);
    const clean = await verify();
    expect(clean.code, clean.stdout).toBe(0);
    // Entry 70 is older than the cutoff but after the checkpoint: the prune kept it, so its deletion is tampering.
    await schema.query(`delete from ${t} where id = 70`);
    const tampered = await verify();
    expect(tampered.code, tampered.stdout).toBe(4);
    expect(tampered.stdout).toContain('"deleted"');
  });
});
