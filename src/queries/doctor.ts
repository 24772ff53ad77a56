import { CompiledQuery, sql, type Compilable, type RawBuilder } from 'kysely';
import type { Db } from '../db/connect.js';
import { afterPosition, entryTimestamp, idRef, idValue, timeBoundCondition, timestampRef, timestampValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import type { EntryFilters, Position } from '../domain.js';
import { allOf, filterConditions, NO_FILTERS } from './filters.js';
import { buildListQuery } from './list.js';
import { tableRef } from './table-ref.js';

/** One round trip. */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

/** The server as one round trip sees it. */
export interface ServerFacts {
  version: string;
  /** TLS in use on this connection (pg_stat_ssl), with its protocol version. */
  ssl: boolean;
  sslVersion: string | null;
  /** The server's clock, epoch milliseconds, read mid-statement (clock_timestamp). */
  clockMs: number;
  role: string;
  timeZone: string;
}

export async function readServerFacts(db: Db): Promise<ServerFacts> {
  const result = await sql<{ version: string; ssl: boolean | null; ssl_version: string | null; clock_ms: string; role: string; zone: string }>`
    select current_setting('server_version') as version, s.ssl, s.version as ssl_version,
      (extract(epoch from clock_timestamp()) * 1000)::bigint::text as clock_ms, current_user::text as role,
      current_setting('TimeZone') as zone
    from (select 1) as one left join pg_stat_ssl s on s.pid = pg_backend_pid()`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('readServerFacts: no row');
  return { version: row.version, ssl: row.ssl === true, sslVersion: row.ssl_version, clockMs: Number(row.clock_ms), role: row.role, timeZone: row.zone };
}

/** The audit table in the catalog: size, estimates, partitioning and what this role may do with it. */
export interface TableFacts {
  /** This session's role (current_user). */
  role: string;
  kind: string;
  owner: string;
  /** This role is the owner or a member of the owner's role: it may detach and drop partitions. */
  owns: boolean;
  select: boolean;
  delete: boolean;
  /** reltuples summed over the partition tree; -1 when never analyzed (or a view). */
  estimatedRows: number;
  /** pg_total_relation_size summed over the partition tree (tables, indexes, TOAST). */
  bytes: number;
  /** `RANGE (created_at)` as pg_get_partkeydef prints it; null when not partitioned. */
  partitionKey: string | null;
  partitions: number;
  /** The bound of the partition whose bound sorts first: `FOR VALUES FROM (...) TO (...)`. */
  oldestPartition: { name: string; bound: string } | null;
}

export async function readTableFacts(db: Db, mapping: ResolvedMapping): Promise<TableFacts> {
  const table = sql`to_regclass(quote_ident(${mapping.table.schema}) || '.' || quote_ident(${mapping.table.name}))`;
  const result = await sql<{
    role: string; kind: string; owner: string; owns: boolean; can_select: boolean; can_delete: boolean; rows: number; bytes: string;
    partkey: string | null; partitions: number; oldest_name: string | null; oldest_bound: string | null;
  }>`
    with t as (select ${table} as oid), tree as (
      select p.relid, p.isleaf from t, pg_partition_tree(t.oid) p
    )
    select current_user::text as role, c.relkind::text as kind, pg_get_userbyid(c.relowner)::text as owner,
      pg_has_role(c.relowner, 'USAGE') as owns,
      has_table_privilege(c.oid, 'SELECT') as can_select,
      has_table_privilege(c.oid, 'DELETE') as can_delete,
      case when c.relkind = 'p'
        then (select coalesce(sum(greatest(pc.reltuples, 0)), 0) from tree join pg_class pc on pc.oid = tree.relid where tree.isleaf)
        else c.reltuples end::float8 as rows,
      case when c.relkind = 'p' then (select coalesce(sum(pg_total_relation_size(tree.relid)), 0) from tree)
        when c.relkind in ('r', 'm') then pg_total_relation_size(c.oid)
        else 0 end::text as bytes,
      case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partkey,
      (select count(*) from pg_inherits i where i.inhparent = c.oid)::int as partitions,
      o.name as oldest_name, o.bound as oldest_bound
    from t join pg_class c on c.oid = t.oid
    left join lateral (
      select pc.relname::text as name, pg_get_expr(pc.relpartbound, pc.oid) as bound
      from pg_inherits i join pg_class pc on pc.oid = i.inhrelid
      where i.inhparent = c.oid and pg_get_expr(pc.relpartbound, pc.oid) <> 'DEFAULT'
      order by 2 limit 1
    ) o on true`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('readTableFacts: the table is gone');
  return {
    role: row.role, kind: row.kind, owner: row.owner, owns: row.owns, select: row.can_select, delete: row.can_delete,
    estimatedRows: Number(row.rows), bytes: Number(row.bytes), partitionKey: row.partkey, partitions: row.partitions,
    oldestPartition: row.oldest_name && row.oldest_bound ? { name: row.oldest_name, bound: row.oldest_bound } : null,
  };
}

/** A plan node of EXPLAIN (FORMAT JSON), as far as the checks read it. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Recheck Cond'?: string;
  'Plan Rows'?: number;
  Plans?: PlanNode[];
}

/** Plans queries without running them; see {@link withPlanner}. */
export type Explain = (query: Compilable | CompiledQuery) => Promise<PlanNode>;

/**
 * Runs `fn` with a function that returns the plan PostgreSQL would use for a query, never running it (EXPLAIN
 * without ANALYZE), with sequential scans and sorts priced out (`enable_seqscan`, `enable_sort` off, as export's
 * and list's JSON reads do): an index that can serve the query, in its order, is then chosen even on a table small
 * enough that a scan would win, and a sequential scan or a sort left in the plan means no index can serve it. One
 * READ ONLY transaction with a timeout for all of them: round trips are most of doctor's time.
 */
export async function withPlanner<T>(db: Db, fn: (explain: Explain) => Promise<T>): Promise<T> {
  return db.transaction().setAccessMode('read only').execute(async (trx) => {
    await sql`select set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true), set_config('statement_timeout', '2s', true)`.execute(trx);
    return fn(async (query) => {
      const compiled = 'compile' in query ? query.compile() : query;
      const result = await trx.executeQuery<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]),
      );
      const plan = result.rows[0]?.['QUERY PLAN'][0]?.Plan;
      if (!plan) throw new Error('explain: no plan');
      return plan;
    });
  });
}

/** Every node of a plan, depth first. */
export function planNodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(planNodes)];
}

/** The oldest and newest entries' timestamps, each one index probe at an end of the (timestamp, id) order. */
export async function readEnds(db: Db, mapping: ResolvedMapping): Promise<{ oldest: string | null; newest: string | null }> {
  const table = sql.table(tableRef(mapping));
  const ts = timestampRef(mapping);
  const id = idRef(mapping);
  const timestamp = entryTimestamp(mapping);
  return db.transaction().setAccessMode('read only').execute(async (trx) => {
    await sql`set local statement_timeout = '2s'`.execute(trx);
    const result = await sql<{ oldest: string | null; newest: string | null }>`
      select (select ${timestamp} from ${table} order by ${ts} asc, ${id} asc limit 1) as oldest,
             (select ${timestamp} from ${table} order by ${ts} desc, ${id} desc limit 1) as newest`.execute(trx);
    return result.rows[0] ?? { oldest: null, newest: null };
  });
}

/** The planner's estimate of the entries before `iso` (what prune would delete): no count(*). */
export async function estimateBefore(db: Db, mapping: ResolvedMapping, iso: string): Promise<number> {
  const where = timeBoundCondition(mapping, '<', { kind: 'absolute', iso });
  const plan = await withPlanner(db, (explain) => explain(db.selectFrom(tableRef(mapping)).select(sql`1`.as('one')).where(where)));
  return Math.round(plan['Plan Rows'] ?? 0);
}

/** Entries after a position in (timestamp, id) order, counted through the index up to `cap`. */
export function countAfter(db: Db, mapping: ResolvedMapping, position: Position, cap: number): Promise<number> {
  // Export's own continuation (by the instant where the column needs it): what a rerun of it would still send.
  return countUpTo(db, db.selectFrom(tableRef(mapping)).select(sql`1`.as('one')).where(afterPosition(mapping, position)), cap);
}

/** The plans of the ways the tool reads the table, for doctor to judge whether an index serves each. */
export interface ReadPlans {
  /** list's newest-first page. */
  newestFirst: PlanNode;
  /** --since 1d, prune's batches before the cutoff, export's read after a position: each in (timestamp, id) order. */
  since: PlanNode;
  prune: PlanNode;
  export: PlanNode;
  /** Each filter alone, by its name; absent when its field has no column. */
  filters: Record<string, PlanNode>;
}

/** An id of each id type to position a probe at: any value that casts does. */
const LOWEST_ID: Record<string, string> = { int8: '0', int4: '0', int2: '0', numeric: '0', uuid: '00000000-0000-0000-0000-000000000000' };

/**
 * Plans (never runs) the statements the tool runs: list's page, a time range, prune's batch read, export's read
 * after a checkpoint, and each filter in `filters` with the values given.
 */
export function planReads(db: Db, mapping: ResolvedMapping, cutoff: string, filters: Record<string, Partial<EntryFilters>>): Promise<ReadPlans> {
  const table = tableRef(mapping);
  const ts = timestampRef(mapping);
  const id = idRef(mapping);
  const bound = timestampValue(mapping, { kind: 'absolute', iso: cutoff });
  const ordered = (where: RawBuilder<boolean>) => db.selectFrom(table).select(sql`1`.as('one')).where(where).orderBy(ts).orderBy(id).limit(1000);
  const since = allOf(filterConditions(mapping, { ...NO_FILTERS, since: { kind: 'relative', interval: '1 day' } }));
  const afterLowest = sql<boolean>`${ts} >= ${bound} and (${ts}, ${id}) > (${bound}, ${idValue(mapping, LOWEST_ID[mapping.columns.id?.type ?? ''] ?? '')})`;
  return withPlanner(db, async (explain) => {
    const plans: ReadPlans = {
      newestFirst: await explain(buildListQuery(db, mapping, { filters: NO_FILTERS, order: 'desc' }, 50)),
      since: await explain(ordered(since)),
      prune: await explain(ordered(timeBoundCondition(mapping, '<', { kind: 'absolute', iso: cutoff }))),
      export: await explain(ordered(afterLowest)),
      filters: {},
    };
    for (const [name, values] of Object.entries(filters)) {
      plans.filters[name] = await explain(db.selectFrom(table).select(sql`1`.as('one')).where(allOf(filterConditions(mapping, { ...NO_FILTERS, ...values }))));
    }
    return plans;
  });
}

/** Counts the rows of a query, stopping at `cap` (an index range read of at most `cap` entries). */
async function countUpTo(db: Db, query: Compilable, cap: number): Promise<number> {
  const compiled = query.compile();
  return db.transaction().setAccessMode('read only').execute(async (trx) => {
    await sql`set local statement_timeout = '2s'`.execute(trx);
    const result = await trx.executeQuery<{ n: string }>(
      CompiledQuery.raw(`select count(*)::text as n from (${compiled.sql} limit ${Number(cap)}) as capped`, [...compiled.parameters]),
    );
    return Number(result.rows[0]?.n ?? 0);
  });
}
