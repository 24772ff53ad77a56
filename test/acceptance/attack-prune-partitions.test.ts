import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { spawnCli, startCli } from '../support/cli.js';
import { waitFor } from '../support/wait.js';
import pg from 'pg';
import { createTestDatabase, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';
import { createTimePartitioned, daysAgo, DEFAULT_COLUMNS, useScratch } from './attack-prune-fixture.js';

// prune on partitioned tables, through the built binary (npm run build first): monthly partitions, a MINVALUE one,
// a default partition holding old and new entries, one straddling the cutoff, one wholly in the future, an old one
// partitioned again, a plain table marked like a detached partition of another table. The promise: exactly the
// entries before the cutoff go (compared with a copy of the table taken before), each archived once.

const scratch = useScratch('attack-prune-partitions');

/** `now() - days` at the start of its UTC month, as a partition bound. */
const month = (days: number) => `date_trunc('month', (now() - interval '${days} days') at time zone 'UTC') at time zone 'UTC'`;

async function partitioned(): Promise<TestSchema> {
  const schema = await scratch.schema('atk_prune_part');
  const t = await createTimePartitioned(schema);
  const s = schema.name;
  const bound = async (expression: string) => (await schema.query<{ b: string }>(`select (${expression})::text as b`)).rows[0]?.b;
  // MINVALUE to 150 days back, one month partitioned again, a gap, a month, two months around the cutoff, a gap
  // (this month), a future month; the gaps go to the default partition.
  const edges = await Promise.all([month(150), month(120), month(90), month(60), month(30), month(0), month(-40), month(-80)].map(bound));
  await schema.query(`create table ${s}.p_min partition of ${t} for values from (minvalue) to ('${edges[0]}')`);
  await schema.query(`create table ${s}.p_sub partition of ${t} for values from ('${edges[0]}') to ('${edges[1]}') partition by range (created_at)`);
  await schema.query(`create table ${s}.p_sub_all partition of ${s}.p_sub default`);
  // No partition for edges[1]..edges[2]: those old entries are in the default partition, with this month's.
  await schema.query(`create table ${s}.p_3 partition of ${t} for values from ('${edges[2]}') to ('${edges[3]}')`);
  await schema.query(`create table ${s}.p_straddle partition of ${t} for values from ('${edges[3]}') to ('${edges[5]}')`);
  await schema.query(`create table ${s}.p_future partition of ${t} for values from ('${edges[6]}') to ('${edges[7]}')`);
  await schema.query(`create table ${s}.p_default partition of ${t} default`);
  // One entry every 7 hours from 260 days back to 70 days ahead: in every partition, old and new in the default one.
  await schema.query(`insert into ${t} (created_at, operator, after)
    select now() - interval '260 days' + g * interval '7 hours', 'op', jsonb_build_object('g', g, 'password', 'pw' || g)
    from generate_series(0, (330 * 24) / 7) g`);
  // A table marked as another table's detached partition, left by its prune: not this table's to drop.
  await schema.query(`create table ${s}.not_ours (id int)`);
  await schema.query(`comment on table ${s}.not_ours is 'api7-audit prune: detached from ${s}.other_table, to be dropped'`);
  await schema.query(`create table ${s}.snapshot as select id, created_at from ${t}`);
  return schema;
}

const ids = async (schema: TestSchema, sql: string) => (await schema.query<{ id: string }>(sql)).rows.map((row) => row.id).sort();

describe('prune on a range-partitioned table of every shape', () => {
  it('deletes exactly the entries before the cutoff; the dry run says how many; the archive holds each once', async () => {
    const schema = await partitioned();
    const t = schema.table();
    const placed = await schema.query<{ p: string; n: string }>(`select tableoid::regclass::text p, count(*)::text n from ${t} group by 1 order by 1`);
    expect(placed.rows.map((row) => row.p.replace(`${schema.name}.`, ''))).toEqual(
      ['p_3', 'p_default', 'p_future', 'p_min', 'p_straddle', 'p_sub_all'],
    );
    const dry = await spawnCli(['--db', databaseUrl(), '--table', t, 'prune', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as { matched: number; partitions: string[]; cutoff: string };
    expect(planned.partitions).toEqual(['p_min', 'p_sub', 'p_3'].map((name) => `${schema.name}.${name}`));
    expect(planned.matched).toBe(Number((await schema.query<{ n: string }>(`select count(*) n from ${t} where created_at < $1`, [planned.cutoff])).rows[0]?.n));

    const archive = join(scratch.dir(), `${schema.name}.ndjson.gz`);
    const result = await spawnCli(['--db', databaseUrl(), '--table', t, 'prune', '--yes', '--json', '--batch-size', '37', '--archive', archive]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const summary = JSON.parse(result.stdout) as { cutoff: string; matched: number; deleted: number; archived: number; complete: boolean };
    const expected = await ids(schema, `select id::text as id from ${schema.name}.snapshot where created_at < '${summary.cutoff}'`);
    const kept = await ids(schema, `select id::text as id from ${schema.name}.snapshot where created_at >= '${summary.cutoff}'`);
    expect(summary.matched).toBe(expected.length);
    expect(summary).toMatchObject({ deleted: expected.length, archived: expected.length, complete: true });
    expect(await ids(schema, `select id::text as id from ${t}`)).toEqual(kept);
    const archived = gunzipSync(await readFile(archive)).toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { id: string; after: { password?: string } | null });
    expect(archived.map((entry) => entry.id).sort()).toEqual(expected);
    expect(archived.filter((entry) => entry.after?.password !== undefined && entry.after.password !== '******')).toEqual([]);
    // Another table's leftover is not this prune's to drop.
    expect((await schema.query(`select 1 from pg_class where oid = '${schema.name}.not_ours'::regclass`)).rowCount).toBe(1);
  });
});

describe.skipIf(isEmbedded())('prune with a foreign partition (postgres_fdw)', () => {
  it('deletes its old remote rows row by row and keeps the newer ones its bound does not stop (it failed: "cannot lock relation")', async () => {
    const own = await createTestDatabase('atk_prune_fdw');
    const url = new URL(own.url);
    const client = new pg.Client({ connectionString: own.url });
    await client.connect();
    const count = async (table: string, operator: string) => Number((await client.query<{ n: string }>(`select count(*) n from ${table} where operator = $1`, [operator])).rows[0]?.n);
    try {
      const available = await client.query(`select 1 from pg_available_extensions where name = 'postgres_fdw'`);
      if (available.rowCount === 0) return;
      await client.query('create extension postgres_fdw');
      await client.query(`create server loop foreign data wrapper postgres_fdw options (host '${url.hostname}', port '${url.port || '5432'}', dbname '${url.pathname.slice(1)}')`);
      await client.query(`create user mapping for current_user server loop options (user '${decodeURIComponent(url.username) || 'postgres'}')`);
      const columns = DEFAULT_COLUMNS;
      await client.query(`create table remote_rows (id bigint, ${columns})`);
      // The foreign partition's bound is 200 to 150 days back; its remote table also holds recent rows.
      await client.query(`insert into remote_rows select g, now() - interval '199 days' + g * interval '1 hour', 'remote-old' from generate_series(1, 100) g`);
      await client.query(`insert into remote_rows select 1000 + g, now() - g * interval '1 hour', 'remote-new' from generate_series(1, 10) g`);
      await client.query(`create table audit_logs (id bigserial, ${columns}) partition by range (created_at)`);
      await client.query('create index on audit_logs (created_at, id)');
      const at = async (days: number) => (await client.query<{ t: string }>(`select (now() - interval '${days} days')::text t`)).rows[0]?.t;
      await client.query(`create foreign table p_remote partition of audit_logs for values from ('${await at(200)}') to ('${await at(150)}') server loop options (table_name 'remote_rows')`);
      await client.query(`create table p_local partition of audit_logs for values from ('${await at(150)}') to ('${await at(-30)}')`);
      await client.query(`insert into audit_logs (created_at, operator) select now() - g * interval '1 day', 'local' from generate_series(0, 120) g`);
      const localOld = Number((await client.query<{ n: string }>(`select count(*) n from audit_logs where operator = 'local' and created_at < now() - interval '60 days'`)).rows[0]?.n);

      const archive = join(scratch.dir(), 'fdw.ndjson');
      const result = await spawnCli(['--db', own.url, '--table', 'public.audit_logs', 'prune', '--yes', '--json', '--archive', archive]);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ deleted: 100 + localOld, archived: 100 + localOld, partitions_dropped: 0, complete: true });
      expect(await count('remote_rows', 'remote-old')).toBe(0);
      expect(await count('remote_rows', 'remote-new')).toBe(10);
      expect(await count('audit_logs', 'local')).toBe(121 - localOld);
      const archived = (await readFile(archive, 'utf8')).trimEnd().split('\n').map((line) => (JSON.parse(line) as { operator: string }).operator);
      expect(archived.filter((operator) => operator === 'remote-old')).toHaveLength(100);
      expect(archived).not.toContain('remote-new');
    } finally {
      await client.end();
      await own.drop();
    }
  });
});

describe('an old partition that a view depends on', () => {
  it('is detached, its entries out of the table; the summary, then one line naming the view, exit 1; dropped once the view is gone', async () => {
    const schema = await scratch.schema('atk_prune_view');
    const t = await createTimePartitioned(schema);
    const at = (days: number) => daysAgo(schema, days);
    await schema.query(`create table ${schema.name}.p_old partition of ${t} for values from ('${await at(200)}') to ('${await at(150)}')`);
    await schema.query(`create table ${schema.name}.p_new partition of ${t} for values from ('${await at(150)}') to ('${await at(-30)}')`);
    await schema.query(`insert into ${t} (created_at, operator) select now() - g * interval '1 day', 'op' from generate_series(0, 199) g`);
    await schema.query(`create view ${schema.name}.old_report as select count(*) from ${schema.name}.p_old`);
    const count = async (where: string) => Number((await schema.query<{ n: string }>(`select count(*) n from ${t} where ${where}`)).rows[0]?.n);
    const prune = () => spawnCli(['--db', databaseUrl(), '--table', t, 'prune', '--yes', '--json']);

    const first = await prune();
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr.trim().split('\n')).toHaveLength(1);
    expect(first.stderr).toBe(
      `error: detached from ${t} but not dropped: ${schema.name}.p_old (view ${schema.name}.old_report depends on table ${schema.name}.p_old); drop or change those objects, then the next prune drops it\n`,
    );
    expect(JSON.parse(first.stdout)).toMatchObject({ partitions_dropped: 0, partitions_detached: 1, complete: true });
    expect(await count(`created_at < now() - interval '60 days'`)).toBe(0);
    expect(await count('true')).toBe(60);

    await schema.query(`drop view ${schema.name}.old_report`);
    const second = await prune();
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ partitions_dropped: 1, complete: true });
    expect((await schema.query(`select 1 from pg_class where relname = 'p_old' and relnamespace = '${schema.name}'::regnamespace`)).rowCount).toBe(0);
  });
});

describe('Ctrl-C while a whole partition is copied to the archive', () => {
  it('stops between pages: the partition stays attached and whole, none of it in the archive, exit 130 (it copied all, then dropped it)', async () => {
    const schema = await scratch.schema('atk_prune_part_int');
    const t = await createTimePartitioned(schema);
    await schema.query(`create table ${schema.name}.p_old partition of ${t} for values from ('${await daysAgo(schema, 200)}') to ('${await daysAgo(schema, 150)}')`);
    await schema.query(`create table ${schema.name}.p_new partition of ${t} for values from ('${await daysAgo(schema, 150)}') to ('${await daysAgo(schema, -30)}')`);
    await schema.query(`insert into ${t} (created_at, operator) select now() - interval '199 days' + g * interval '20 s', 'old' from generate_series(1, 100000) g`);
    const archive = join(scratch.dir(), `${schema.name}.ndjson`);
    // Pages of 50 entries: copying the partition takes thousands of queries, seconds on any machine.
    const run = startCli(['--db', databaseUrl(), '--table', t, 'prune', '--yes', '--json', '--batch-size', '50', '--archive', archive]);
    await waitFor(async () => (await stat(archive).catch(() => undefined))?.size !== undefined && (await stat(archive)).size > 0, 30_000, 'the partition being archived');
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toBe('error: interrupted: deleted 0 of 100000 entries; the rest is intact, run again to continue\n');
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: 0, archived: 0, partitions_dropped: 0, stopped: 'interrupted' });
    expect(await readFile(archive, 'utf8')).toBe('');
    const placed = await schema.query<{ p: string; n: string }>(`select tableoid::regclass::text p, count(*)::text n from ${t} group by 1`);
    expect(placed.rows).toEqual([{ p: `${schema.name}.p_old`, n: '100000' }]);
  });
});
