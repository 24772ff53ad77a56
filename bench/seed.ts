import type pg from 'pg';
import { checkIdentifier, withClient, type ServerInfo } from './db.js';
import { readSchemaSql, runInSchema } from './schema.js';
import { SEED_VERSION, bodiesSql, entriesSql, operatorsSql, type Shape } from './seed-sql.js';

/** The seeded table every list and export figure reads, and the source of every prune copy. */
export interface Seed {
  schema: string;
  /** `schema.audit_logs`, for --table. */
  table: string;
  rows: number;
  shape: Shape;
  version: number;
  /** The seed time: the newest entry is at the anchor, the oldest 120 days before it. */
  anchor: string;
  reused: boolean;
  /** How long seeding took (when it was done, possibly by an earlier run). */
  seedSeconds: number;
  avgJsonBytes: number;
  tableMb: number;
}

/** A reused seed ages; past this its "last 7 days" and "older than 60 days" drift too far, so it is rebuilt. */
const MAX_SEED_AGE = '7 days';

export type Log = (message: string) => void;

/**
 * Returns the seed schema for `rows` entries, building it only when no complete seed of that size and version (and
 * at most a week old) exists. The audit table is UNLOGGED: reads are the same as from a logged table, and seeding
 * writes no WAL. Prune never deletes from it; it works on logged copies.
 */
export async function ensureSeed(client: pg.Client, url: string, server: ServerInfo, rows: number, shape: Shape, log: Log): Promise<Seed> {
  const schema = seedSchema(rows, shape);
  await client.query('select pg_advisory_lock(hashtext($1))', [`api7-audit bench ${schema}`]);
  try {
    const existing = await readMarker(client, schema, shape);
    if (existing) {
      log(`reusing seed ${schema} (${rows.toLocaleString('en-US')} entries from ${existing.anchor})`);
      return { ...existing, reused: true };
    }
    log(`seeding ${rows.toLocaleString('en-US')} entries into ${schema} ...`);
    await seed(client, url, server, schema, rows, shape, log);
    const made = await readMarker(client, schema, shape);
    if (!made) throw new Error(`seeding ${schema} did not complete`);
    return { ...made, reused: false };
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [`api7-audit bench ${schema}`]);
  }
}

export async function dropSeed(client: pg.Client, rows: number, shape: Shape): Promise<void> {
  await client.query(`drop schema if exists ${seedSchema(rows, shape)} cascade`);
}

/** `api7_bench_<rows>` for the default shape (the name earlier runs used), `api7_bench_<shape>_<rows>` for others. */
function seedSchema(rows: number, shape: Shape): string {
  return checkIdentifier(shape === 'default' ? `api7_bench_${rows}` : `api7_bench_${shape}_${rows}`);
}

async function readMarker(client: pg.Client, schema: string, shape: Shape): Promise<Omit<Seed, 'reused'> | undefined> {
  const exists = await client.query(`select to_regclass($1) is not null as ok`, [`${schema}.bench_seed`]);
  if (!exists.rows[0]?.ok) return undefined;
  const { rows } = await client.query<{ rows: string; version: number; anchor: string; seconds: number; avg_json_bytes: number; table_mb: number }>(
    `select rows::text, version, to_char(anchor at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as anchor, seconds, avg_json_bytes,
            round(pg_total_relation_size(to_regclass($1)) / 1048576.0)::int as table_mb
     from ${schema}.bench_seed
     where complete and version = $2 and seeded_at > now() - interval '${MAX_SEED_AGE}'`,
    [`${schema}.audit_logs`, SEED_VERSION[shape]],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    schema,
    table: `${schema}.audit_logs`,
    rows: Number(row.rows),
    shape,
    version: row.version,
    anchor: row.anchor,
    seedSeconds: row.seconds,
    avgJsonBytes: row.avg_json_bytes,
    tableMb: row.table_mb,
  };
}

async function seed(client: pg.Client, url: string, server: ServerInfo, schema: string, rows: number, shape: Shape, log: Log): Promise<void> {
  const started = performance.now();
  const ddl = await readSchemaSql();
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.query(`create schema ${schema}`);
  await client.query(`create table ${schema}.bench_seed (rows bigint not null, version int not null, anchor timestamptz not null,
    seeded_at timestamptz not null default now(), complete boolean not null default false, seconds float8, avg_json_bytes int)`);
  await client.query(`insert into ${schema}.bench_seed (rows, version, anchor) values ($1, $2, date_trunc('second', now()))`, [rows, SEED_VERSION[shape]]);
  await client.query(`analyze ${schema}.bench_seed`);
  await client.query(bodiesSql(schema, shape));
  await client.query(operatorsSql(schema, shape));
  await runInSchema(client, schema, [ddl.table]);
  await client.query(`alter table ${schema}.audit_logs set unlogged`);
  // Indexes are built after the load (much faster than maintaining them row by row), the primary key included.
  await client.query(`alter table ${schema}.audit_logs drop constraint if exists audit_logs_pkey`);
  // Two loaders keep both cores busy on a real server; the embedded one has a single backend.
  const parts = server.embedded ? 1 : 2;
  const bounds = Array.from({ length: parts }, (_, p) => [Math.floor((rows * p) / parts) + 1, Math.floor((rows * (p + 1)) / parts)] as const);
  await Promise.all(
    bounds.map(([from, to]) =>
      withClient(url, async (loader) => {
        await loader.query('set jit = off');
        await loader.query('set synchronous_commit = off');
        await loader.query(entriesSql(schema, rows, from, to, shape));
      }),
    ),
  );
  log(`  loaded in ${((performance.now() - started) / 1000).toFixed(1)} s; building indexes ...`);
  if (!server.embedded) await client.query(`set maintenance_work_mem = '256MB'`);
  await client.query(`alter table ${schema}.audit_logs add primary key (id)`);
  await runInSchema(client, schema, ddl.indexes);
  await client.query(`select setval(pg_get_serial_sequence($1, 'id'), $2)`, [`${schema}.audit_logs`, rows]);
  await client.query(`vacuum (analyze) ${schema}.audit_logs`);
  if (!server.embedded) await client.query('reset maintenance_work_mem');
  const sample = await client.query<{ avg: number }>(
    `select coalesce(avg(length(row_to_json(a)::text)), 0)::int as avg from ${schema}.audit_logs a where id % 50 = 0`,
  );
  const seconds = (performance.now() - started) / 1000;
  await client.query(`update ${schema}.bench_seed set complete = true, seconds = $1, avg_json_bytes = $2`, [seconds, sample.rows[0]?.avg ?? 0]);
  log(`  seeded in ${seconds.toFixed(1)} s`);
}
