import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { inject } from 'vitest';

export const databaseUrl = (): string => inject('databaseUrl');
export const isEmbedded = (): boolean => inject('databaseKind') === 'embedded';

/** A schema of its own for one test file, dropped with everything in it at the end. */
export interface TestSchema {
  name: string;
  client: pg.Client;
  /** `schema.table` for --table. */
  table(name?: string): string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

export async function createTestSchema(prefix: string, url = databaseUrl()): Promise<TestSchema> {
  const name = `t_${prefix}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`create schema ${name}`);
  return {
    name,
    client,
    table: (table = 'audit_logs') => `${name}.${table}`,
    query: (text, values) => client.query(text, values),
    async drop() {
      await client.query(`drop schema if exists ${name} cascade`);
      await client.end();
    },
  };
}

/**
 * A database of its own on the test server, for a file whose transactions stay open for seconds: an export's bound
 * is the start of the oldest open transaction in its database, so in the shared one they would hold back the
 * exports of every other file running meanwhile. The embedded server has one database: its URL is returned.
 */
export async function createTestDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (isEmbedded()) return { url: databaseUrl(), drop: async () => undefined };
  const name = `t_${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(databaseUrl());
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

/** Creates the default table with the indexes from examples/schema.sql inside the schema. */
export async function createDefaultTable(schema: TestSchema): Promise<void> {
  const ddl = await readFile(new URL('../../examples/schema.sql', import.meta.url), 'utf8');
  await schema.query(`set search_path to ${schema.name}`);
  await schema.query(ddl);
  await schema.query('set search_path to default');
}

/**
 * The default columns in a table partitioned by range on created_at, with an index on (created_at, id) (or that as
 * its primary key): one partition per `[name, from, to]`, bounds as SQL time expressions such as
 * `now() - interval '90 days'`, or `'default'` for the default partition. Returns `schema.table`.
 */
export async function createPartitionedTable(
  schema: TestSchema,
  partitions: readonly (readonly [string, string, string] | readonly [string, 'default'])[],
  { primaryKey = false } = {},
): Promise<string> {
  const t = schema.table();
  await schema.query(`
    create table ${t} (
      id bigserial, created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text,
      resource_name text, source_ip inet, source text, before jsonb, after jsonb${primaryKey ? ', primary key (created_at, id)' : ''}
    ) partition by range (created_at)`);
  if (!primaryKey) await schema.query(`create index on ${t} (created_at, id)`);
  const bound = async (expression: string) =>
    (await schema.query<{ t: string }>(`select to_char((${expression}) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as t`)).rows[0]?.t;
  for (const [name, from, to] of partitions) {
    const range = from === 'default' ? 'default' : `for values from ('${await bound(from)}') to ('${await bound(to as string)}')`;
    await schema.query(`create table ${schema.name}.${name} partition of ${t} ${range}`);
  }
  return t;
}

/** A row for the default table; `age` is a PostgreSQL interval before now(), or `at` an absolute time. */
export interface SeedRow {
  id?: number;
  at?: string;
  age?: string;
  operator?: string | null;
  operation?: string | null;
  resource_type?: string | null;
  resource_id?: string | null;
  resource_name?: string | null;
  source_ip?: string | null;
  source?: string | null;
  before?: unknown;
  after?: unknown;
}

/** Inserts rows in one statement; returns their ids in order. */
export async function insertRows(schema: TestSchema, rows: SeedRow[], table = 'audit_logs'): Promise<string[]> {
  const result = await schema.query<{ id: string }>(
    `insert into ${schema.name}.${table}
       (id, created_at, operator, operation, resource_type, resource_id, resource_name, source_ip, source, before, after)
     select coalesce(r.id, nextval(pg_get_serial_sequence('${schema.name}.${table}', 'id'))),
            coalesce(r.at::timestamptz, now() - coalesce(r.age, '0')::interval),
            r.operator, r.operation, r.resource_type, r.resource_id, r.resource_name, r.source_ip::inet, r.source,
            r.before, r.after
     from json_to_recordset($1::json) as r(id bigint, at text, age text, operator text, operation text,
       resource_type text, resource_id text, resource_name text, source_ip text, source text, before jsonb, after jsonb)
     returning id::text`,
    [JSON.stringify(rows)],
  );
  return result.rows.map((row) => row.id);
}
