import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropMarker } from '../../src/queries/partitions.js';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import { runCli, type CliResult } from '../support/cli.js';
import { createPartitionedTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type SeedRow, type TestSchema } from '../support/database.js';

const schemas: TestSchema[] = [];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prune-parts-'));
});
afterEach(async () => {
  await Promise.all(schemas.splice(0).map((schema) => schema.drop()));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * The default columns, partitioned by range on created_at, with partitions placed relative to now so that the
 * default 60-day cutoff falls inside p_boundary:
 *   p_200_150, p_150_100, p_100_70 wholly before it; p_70_50 the boundary; p_50_now and p_default after or beside it.
 */
async function partitionedTable(): Promise<TestSchema> {
  const schema = await createTestSchema('prune_parts');
  schemas.push(schema);
  const ago = (days: number) => `now() - interval '${days} days'`;
  await createPartitionedTable(schema, [
    ['p_200_150', ago(200), ago(150)],
    ['p_150_100', ago(150), ago(100)],
    ['p_100_70', ago(100), ago(70)],
    ['p_70_50', ago(70), ago(50)],
    ['p_50_now', ago(50), `now() + interval '30 days'`],
    ['p_default', 'default'],
  ]);
  return schema;
}

const rowsAt = (ages: string[], operator: string): SeedRow[] => ages.map((age) => ({ age, operator }));
const OLD_IN_WHOLE = [...rowsAt(['190 days', '160 days', '151 days'], 'p_200_150'), ...rowsAt(['140 days', '120 days'], 'p_150_100'), ...rowsAt(['95 days', '80 days', '71 days', '71 days'], 'p_100_70')];
const BOUNDARY_OLD = rowsAt(['69 days', '65 days', '61 days', '60 days 1 hour', '60 days 2 hours', '62 days', '66 days'], 'boundary-old');
const BOUNDARY_NEW = rowsAt(['59 days 23 hours', '55 days', '51 days'], 'boundary-new');
const NEWER = rowsAt(['40 days', '10 days', '1 hour'], 'newer');
const DEFAULT_OLD = rowsAt(['300 days', '250 days'], 'default-old');

async function seed(schema: TestSchema): Promise<void> {
  await insertRows(schema, [...OLD_IN_WHOLE, ...BOUNDARY_OLD, ...BOUNDARY_NEW, ...NEWER, ...DEFAULT_OLD]);
}

const count = async (schema: TestSchema, where = 'true') => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()} where ${where}`)).rows[0]?.n);
const tables = async (schema: TestSchema) =>
  (await schema.query<{ name: string; attached: boolean }>(
    `select c.relname as name, c.relispartition as attached from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind = 'r' order by 1`, [schema.name])).rows;
const prune = (schema: TestSchema, args: string[]) => runCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', ...args]);
const summaryOf = (result: CliResult) => JSON.parse(result.stdout) as Record<string, unknown>;

describe('prune on a table partitioned by time range', () => {
  it('drops partitions wholly before the cutoff, trims the boundary partition, leaves newer data intact', async () => {
    const schema = await partitionedTable();
    await seed(schema);
    const result = await prune(schema, ['--batch-size', '3', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const dropped = ['p_200_150', 'p_150_100', 'p_100_70'].map((name) => `${schema.name}.${name}`);
    expect(summaryOf(result)).toMatchObject({
      matched: OLD_IN_WHOLE.length + BOUNDARY_OLD.length + DEFAULT_OLD.length,
      deleted: OLD_IN_WHOLE.length + BOUNDARY_OLD.length + DEFAULT_OLD.length,
      partitions_dropped: 3,
      partitions_detached: 0,
      partitions: dropped,
      batches: 3,
      complete: true,
    });
    expect(await tables(schema)).toEqual([
      { name: 'p_50_now', attached: true },
      { name: 'p_70_50', attached: true },
      { name: 'p_default', attached: true },
    ]);
    expect(await count(schema, `operator = 'boundary-old'`)).toBe(0);
    expect(await count(schema, `operator = 'default-old'`)).toBe(0);
    expect(await count(schema, `operator = 'boundary-new'`)).toBe(BOUNDARY_NEW.length);
    expect(await count(schema, `operator = 'newer'`)).toBe(NEWER.length);
    expect(await count(schema)).toBe(BOUNDARY_NEW.length + NEWER.length);
  });

  it('--dry-run lists the partitions it would drop and changes nothing', async () => {
    const schema = await partitionedTable();
    await seed(schema);
    const result = await prune(schema, ['--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`to be dropped whole: ${schema.name}.p_200_150, ${schema.name}.p_150_100, ${schema.name}.p_100_70`);
    expect((await tables(schema)).every((table) => table.attached)).toBe(true);
    expect(await count(schema)).toBe(24);
  });

  it('--detach-only keeps the old partitions as plain tables, out of the audit table', async () => {
    const schema = await partitionedTable();
    await seed(schema);
    const result = await prune(schema, ['--detach-only', '--json']);
    expect(summaryOf(result)).toMatchObject({ partitions_dropped: 0, partitions_detached: 3, deleted: 18 });
    expect(await tables(schema)).toEqual([
      { name: 'p_100_70', attached: false },
      { name: 'p_150_100', attached: false },
      { name: 'p_200_150', attached: false },
      { name: 'p_50_now', attached: true },
      { name: 'p_70_50', attached: true },
      { name: 'p_default', attached: true },
    ]);
    const kept = await schema.query<{ n: string }>(`select count(*) as n from ${schema.name}.p_150_100`);
    expect(Number(kept.rows[0]?.n)).toBe(2);
    // A later prune leaves them alone: they are no longer part of the table, and not marked for dropping.
    await prune(schema, ['--json']);
    expect((await tables(schema)).map((table) => table.name)).toContain('p_150_100');
  });

  it('--archive holds every entry removed, from dropped partitions and row by row', async () => {
    const schema = await partitionedTable();
    await seed(schema);
    const expected = (await schema.query<{ id: string }>(`select id::text from ${schema.table()} where created_at < now() - interval '60 days' order by id`)).rows.map((row) => row.id);
    const path = join(dir, `${schema.name}.ndjson.gz`);
    const result = await prune(schema, ['--archive', path, '--batch-size', '2', '--json']);
    expect(summaryOf(result)).toMatchObject({ deleted: expected.length, archived: expected.length, partitions_dropped: 3 });
    const { gunzipSync } = await import('node:zlib');
    const archived = gunzipSync(await readFile(path)).toString('utf8').trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    expect(archived.sort()).toEqual([...expected].sort());
  });

  it('drops a partition that an earlier run detached but did not get to drop', async () => {
    const schema = await partitionedTable();
    await seed(schema);
    const mapping = { table: { schema: schema.name, name: 'audit_logs' } } as ResolvedMapping;
    await schema.query(`alter table ${schema.table()} detach partition ${schema.name}.p_200_150`);
    await schema.query(`comment on table ${schema.name}.p_200_150 is '${dropMarker(mapping)}'`);
    const result = await prune(schema, ['--json']);
    expect(summaryOf(result)).toMatchObject({ partitions_dropped: 3 });
    expect((await tables(schema)).map((table) => table.name)).toEqual(['p_50_now', 'p_70_50', 'p_default']);
  });

  it.skipIf(isEmbedded())(
    'a role that may delete but not detach (not the owner) prunes row by row',
    // Skipped on the embedded server: it serves every connection as one superuser session, whatever the user name.
    async () => {
      const schema = await partitionedTable();
      await seed(schema);
      const role = `${schema.name}_deleter`;
      await schema.query(`create role ${role} login`);
      try {
        await schema.query(`grant usage on schema ${schema.name} to ${role}`);
        await schema.query(`grant select, delete on ${schema.table()} to ${role}`);
        const url = new URL(databaseUrl());
        url.username = role;
        const result = await runCli(['--db', url.toString(), '--table', schema.table(), 'prune', '--json']);
        expect(result.code).toBe(0);
        expect(result.stderr).toContain(`warning: not allowed (DETACH needs the owner of ${schema.table()}) to detach ${schema.name}.p_200_150`);
        expect(summaryOf(result)).toMatchObject({ partitions_dropped: 0, deleted: 18, complete: true });
        expect((await tables(schema)).length).toBe(6);
        expect(await count(schema)).toBe(BOUNDARY_NEW.length + NEWER.length);
      } finally {
        await schema.query(`drop owned by ${role}`);
        await schema.query(`drop role ${role}`);
      }
    },
  );

  it.skipIf(isEmbedded())(
    'leaves a partition attached and deletes its rows one batch at a time when the parent stays locked',
    // Skipped on the embedded server: it runs one transaction at a time, so a lock held open by another session
    // would block the prune's own statements instead of timing out its DETACH.
    async () => {
      const schema = await partitionedTable();
      await seed(schema);
      const holder = await createTestSchema('prune_holder');
      schemas.push(holder);
      await holder.query('begin');
      await holder.query(`lock table ${schema.table()} in access share mode`);
      try {
        const result = await prune(schema, ['--json']);
        expect(result.code).toBe(0);
        const names = ['p_200_150', 'p_150_100', 'p_100_70'].map((name) => `${schema.name}.${name}`).join(', ');
        expect(result.stderr).toBe(`warning: could not lock ${schema.table()} to detach ${names}; deleting their rows instead\n`);
        expect(summaryOf(result)).toMatchObject({ partitions_dropped: 0, deleted: 18, complete: true });
      } finally {
        await holder.query('rollback');
      }
      expect((await tables(schema)).length).toBe(6);
      expect(await count(schema)).toBe(BOUNDARY_NEW.length + NEWER.length);
    },
    30_000,
  );
});
