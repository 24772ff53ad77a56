import type pg from 'pg';
import { runCli } from './cli.js';
import type { ServerInfo } from './db.js';
import { assertSucceeded } from './proc.js';
import { readSchemaSql, runInSchema, type SchemaStatements } from './schema.js';
import type { Log, Seed } from './seed.js';
import { pairedRatio, summarize, type Summary } from './stats.js';

export const RETENTION_DAYS = 60;

/**
 * `BENCH_PRUNE_PGOPTIONS` is handed to the pruning processes as `PGOPTIONS`, to see what their slowest statements
 * are, for example `-c log_min_duration_statement=100` (a superuser setting; the server log then names each one).
 */
const PRUNE_ENV = process.env.BENCH_PRUNE_PGOPTIONS ? { PGOPTIONS: process.env.BENCH_PRUNE_PGOPTIONS } : undefined;
const COPY_PREFIX = 'api7_bench_prune_';

export interface PruneFigure {
  name: string;
  command: string;
  deleted: number;
  /** Rows deleted per second of whole-process wall time (the baseline: of the DELETE statement). */
  rowsPerSecond: Summary;
  ratioToDelete?: Summary;
  /** Longest single statement: the DELETE itself, or prune's slowest batch transaction (BEGIN to COMMIT). */
  longestStatementMs: Summary;
  wallSeconds: Summary;
  /** What prune itself reports (duration_ms), without process start and connection. */
  reportedSeconds?: Summary;
  batches?: number;
  partitionsDropped?: number;
  /** Rows the partitioned prune had to delete row by row (the month the cutoff falls in). */
  rowByRow?: number;
}

export interface PruneResult {
  retentionDays: number;
  /** The retention that puts the cutoff just after a month boundary, for the second partitioned figure. */
  alignedRetentionDays?: number;
  figures: PruneFigure[];
}

type Kind = 'plain' | 'partitioned';

interface Sample {
  deleted: number;
  wallMs: number;
  longestMs: number;
  reportedMs?: number;
  batches?: number;
  partitionsDropped?: number;
}

/**
 * One plain DELETE of everything older than the cutoff against `api7-audit prune` with its default batch size, on
 * identical fresh copies of the seed (logged tables with the schema's indexes, vacuumed and checkpointed before
 * each measurement), then the same data month-partitioned: once with the same cutoff, once with the cutoff just
 * after a month boundary so that nearly every old row lies in a partition that can be dropped whole.
 */
export async function measurePrune(client: pg.Client, seed: Seed, url: string, server: ServerInfo, runs: number, cwd: string, log: Log): Promise<PruneResult> {
  const ddl = await readSchemaSql();
  await dropStaleCopies(client);
  const aligned = await alignedRetention(client);
  const samples = { delete: [] as Sample[], prune: [] as Sample[], parts: [] as Sample[], aligned: [] as Sample[] };
  const prune = async (table: string, days: number): Promise<Sample> => {
    const argv = ['--db', url, '--table', table, 'prune', '--yes', '--json', '--retention-days', String(days)];
    const run = assertSucceeded(await runCli(argv, { cwd, keepStdout: true, env: PRUNE_ENV }), 'prune');
    const summary = JSON.parse(run.stdout) as { deleted: number; duration_ms: number; slowest_batch_ms: number; batches: number; partitions_dropped: number };
    return { deleted: summary.deleted, wallMs: run.wallMs, longestMs: summary.slowest_batch_ms, reportedMs: summary.duration_ms, batches: summary.batches, partitionsDropped: summary.partitions_dropped };
  };
  for (let round = 1; round <= runs; round += 1) {
    samples.delete.push(await withCopy(client, seed, server, ddl, 'plain', async (table) => singleDelete(client, table)));
    samples.prune.push(await withCopy(client, seed, server, ddl, 'plain', (table) => prune(table, RETENTION_DAYS)));
    samples.parts.push(await withCopy(client, seed, server, ddl, 'partitioned', (table) => prune(table, RETENTION_DAYS)));
    samples.aligned.push(await withCopy(client, seed, server, ddl, 'partitioned', (table) => prune(table, aligned)));
    const last = (list: Sample[]) => list[list.length - 1] as Sample;
    for (const [name, list] of Object.entries(samples)) {
      const s = last(list);
      log(`  prune round ${round}: ${name}: ${s.deleted} rows in ${(s.wallMs / 1000).toFixed(2)} s, longest statement ${s.longestMs} ms`);
    }
  }
  const rate = (list: Sample[]) => list.map((s) => s.deleted / (s.wallMs / 1000));
  const baseRates = rate(samples.delete);
  const figure = (name: string, command: string, list: Sample[], withRatio = true): PruneFigure => ({
    name,
    command,
    deleted: list[0]?.deleted ?? 0,
    rowsPerSecond: summarize(rate(list)),
    ratioToDelete: withRatio && list !== samples.delete ? pairedRatio(rate(list), baseRates) : undefined,
    longestStatementMs: summarize(list.map((s) => s.longestMs)),
    wallSeconds: summarize(list.map((s) => s.wallMs / 1000)),
    reportedSeconds: list[0]?.reportedMs === undefined ? undefined : summarize(list.map((s) => (s.reportedMs ?? NaN) / 1000)),
    batches: list[0]?.batches,
    partitionsDropped: list[0]?.partitionsDropped,
  });
  return {
    retentionDays: RETENTION_DAYS,
    alignedRetentionDays: aligned,
    figures: [
      figure('single DELETE (baseline)', `DELETE FROM audit_logs WHERE created_at < now() - ${RETENTION_DAYS} days`, samples.delete),
      figure('api7-audit prune', `prune --retention-days ${RETENTION_DAYS} (default batch)`, samples.prune),
      { ...figure('prune, month partitions', `prune --retention-days ${RETENTION_DAYS}, partitioned table`, samples.parts), rowByRow: await boundaryRows(client, seed, RETENTION_DAYS) },
      {
        ...figure('prune, month partitions, cutoff after a month start', `prune --retention-days ${aligned}, partitioned table`, samples.aligned, false),
        rowByRow: await boundaryRows(client, seed, aligned),
      },
    ],
  };
}

async function singleDelete(client: pg.Client, table: string): Promise<Sample> {
  const started = performance.now();
  const result = await client.query(`delete from ${table} where created_at < ${cutoff(RETENTION_DAYS)}`);
  const wallMs = performance.now() - started;
  return { deleted: result.rowCount ?? 0, wallMs, longestMs: Math.round(wallMs) };
}

/** prune's own cutoff: N × 24 h before now by the database clock, in UTC. */
const cutoff = (days: number) => `((now() at time zone 'UTC') - make_interval(days => ${days})) at time zone 'UTC'`;

/**
 * Days of retention that put the cutoff within a day after the first month boundary at or after the usual
 * 60-day cutoff: a little more data is old, and nearly all of it lies in months wholly before the cutoff.
 */
async function alignedRetention(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ days: number }>(`
    select floor(extract(epoch from (now() at time zone 'UTC')
      - (date_trunc('month', (now() at time zone 'UTC') - make_interval(days => ${RETENTION_DAYS})) + interval '1 month')) / 86400)::int as days`);
  return rows[0]?.days ?? RETENTION_DAYS;
}

/**
 * Entries before the cutoff in the month of the cutoff: what a month-partitioned prune deletes row by row, the rest
 * going with whole partitions. Counted on the seed (copies are its entries shifted in time to end now).
 */
async function boundaryRows(client: pg.Client, seed: Seed, days: number): Promise<number> {
  const { rows } = await client.query<{ n: number }>(`
    select count(*)::int as n
    from ${seed.table} a, (select now() - anchor as shift from ${seed.schema}.bench_seed) s,
         (select ${cutoff(days)} as c) t
    where a.created_at + s.shift < t.c
      and a.created_at + s.shift >= date_trunc('month', t.c at time zone 'UTC') at time zone 'UTC'`);
  return rows[0]?.n ?? 0;
}

/** Builds a fresh copy of the seed (times shifted so the newest entry is now), runs `fn` on it, drops it. */
async function withCopy<T>(client: pg.Client, seed: Seed, server: ServerInfo, ddl: SchemaStatements, kind: Kind, fn: (table: string) => Promise<T>): Promise<T> {
  const schema = `${COPY_PREFIX}${kind}_${process.pid}`;
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.query(`create schema ${schema}`);
  try {
    const table = `${schema}.audit_logs`;
    if (kind === 'plain') {
      await runInSchema(client, schema, [ddl.table]);
      await client.query(`alter table ${table} drop constraint if exists audit_logs_pkey`);
    } else {
      await client.query(`create table ${table} (like ${seed.table}) partition by range (created_at)`);
      await client.query(`
        do $$ declare m timestamp; begin
          for m in select generate_series(date_trunc('month', (now() at time zone 'UTC') - interval '125 days'),
                                          date_trunc('month', now() at time zone 'UTC') + interval '1 month', interval '1 month') loop
            execute format('create table %I.%I partition of %s for values from (%L) to (%L)', '${schema}',
              'audit_logs_' || to_char(m, 'YYYY_MM'), '${table}', (m at time zone 'UTC')::text, ((m + interval '1 month') at time zone 'UTC')::text);
          end loop; end $$`);
    }
    await client.query('set synchronous_commit = off');
    await client.query(`
      insert into ${table} (id, created_at, operator, operation, resource_type, resource_id, resource_name, source_ip, source, before, after)
      select a.id, a.created_at + (now() - m.anchor), a.operator, a.operation, a.resource_type, a.resource_id, a.resource_name, a.source_ip,
             a.source, a.before, a.after
      from ${seed.table} a cross join ${seed.schema}.bench_seed m`);
    await client.query('reset synchronous_commit');
    if (!server.embedded) await client.query(`set maintenance_work_mem = '256MB'`);
    await client.query(`alter table ${table} add primary key (${kind === 'plain' ? 'id' : 'id, created_at'})`);
    await runInSchema(client, schema, ddl.indexes);
    if (!server.embedded) await client.query('reset maintenance_work_mem');
    await client.query(`vacuum (analyze) ${table}`);
    await client.query('checkpoint').catch(() => undefined);
    return await fn(table);
  } finally {
    await client.query(`drop schema if exists ${schema} cascade`);
  }
}

/** Copies left by a bench that was killed, when no other bench is connected. */
async function dropStaleCopies(client: pg.Client): Promise<void> {
  const others = await client.query(`select 1 from pg_stat_activity where application_name = 'api7-audit-bench' and pid <> pg_backend_pid()`).catch(() => ({ rowCount: 1 }));
  if ((others.rowCount ?? 0) > 0) return;
  const { rows } = await client.query<{ name: string }>(`select nspname as name from pg_namespace where nspname like $1`, [`${COPY_PREFIX}%`]);
  for (const { name } of rows) await client.query(`drop schema if exists ${name} cascade`);
}
