import { CompiledQuery, sql, type Compilable } from 'kysely';
import type { Db } from '../db/connect.js';
import { fieldExpression, idRef, timestampRef } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { tableRef } from './table-ref.js';

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
    kind: string; owner: string; owns: boolean; can_select: boolean; can_delete: boolean; rows: number; bytes: string;
    partkey: string | null; partitions: number; oldest_name: string | null; oldest_bound: string | null;
  }>`
    with t as (select ${table} as oid), tree as (
      select p.relid, p.isleaf from t, pg_partition_tree(t.oid) p
    )
    select c.relkind::text as kind, pg_get_userbyid(c.relowner)::text as owner,
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
    kind: row.kind, owner: row.owner, owns: row.owns, select: row.can_select, delete: row.can_delete,
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

/**
 * The plan PostgreSQL would use for `query`, never run (EXPLAIN without ANALYZE), with sequential scans priced out
 * (`enable_seqscan`, `enable_sort` off): an index that can serve the query is then chosen even on a table small enough that a
 * scan would win, and a sequential scan left in the plan means no index can serve it. READ ONLY, with a timeout.
 */
export async function explainPlan(db: Db, query: Compilable | CompiledQuery): Promise<PlanNode> {
  const compiled = 'compile' in query ? query.compile() : query;
  return db.transaction().setAccessMode('read only').execute(async (trx) => {
    await sql`set local enable_seqscan = off`.execute(trx);
    // Sorts priced out too, as export's and list's JSON reads do: an index yielding the order is then preferred.
    await sql`set local enable_sort = off`.execute(trx);
    await sql`set local statement_timeout = '2s'`.execute(trx);
    const result = await trx.executeQuery<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]),
    );
    const plan = result.rows[0]?.['QUERY PLAN'][0]?.Plan;
    if (!plan) throw new Error('explainPlan: no plan');
    return plan;
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
  const timestamp = fieldExpression(mapping, 'timestamp');
  return db.transaction().setAccessMode('read only').execute(async (trx) => {
    await sql`set local statement_timeout = '2s'`.execute(trx);
    const result = await sql<{ oldest: string | null; newest: string | null }>`
      select (select ${timestamp} from ${table} order by ${ts} asc, ${id} asc limit 1) as oldest,
             (select ${timestamp} from ${table} order by ${ts} desc, ${id} desc limit 1) as newest`.execute(trx);
    return result.rows[0] ?? { oldest: null, newest: null };
  });
}

/** The planner's estimate of the rows a query returns: what doctor says instead of counting. */
export async function estimateRows(db: Db, query: Compilable): Promise<number> {
  const plan = await explainPlan(db, query);
  return Math.round(plan['Plan Rows'] ?? 0);
}

/** Counts the rows of a query, stopping at `cap` (an index range read of at most `cap` entries). */
export async function countUpTo(db: Db, query: Compilable, cap: number): Promise<number> {
  const compiled = query.compile();
  return db.transaction().setAccessMode('read only').execute(async (trx) => {
    await sql`set local statement_timeout = '2s'`.execute(trx);
    const result = await trx.executeQuery<{ n: string }>(
      CompiledQuery.raw(`select count(*)::text as n from (${compiled.sql} limit ${Number(cap)}) as capped`, [...compiled.parameters]),
    );
    return Number(result.rows[0]?.n ?? 0);
  });
}
