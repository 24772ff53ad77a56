import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { timestampValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { tableRef } from './table-ref.js';

/** A partition of the audit table, with what its bound says about the cutoff. */
export interface TimePartition {
  schema: string;
  name: string;
  /** Exclusive upper bound of its time range, ISO 8601 UTC; undefined for MAXVALUE or a DEFAULT partition. */
  upperBound?: string;
  /** Every row it can hold is before the cutoff: it can be dropped whole instead of deleted row by row. */
  whollyBefore: boolean;
  /** Table oids holding its rows (itself, or its leaves when it is partitioned further). */
  leafOids: number[];
}

// A range bound as pg_get_expr prints it: FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00').
const UPPER_BOUND = sql.lit(`TO \\('((?:[^']|'')*)'\\)$`);
const ISO_FORMAT = sql.raw(`'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`);

/**
 * The partitions of a table partitioned by range on the timestamp column alone, oldest first; undefined when the
 * table is not partitioned that way (list or hash partitioning, another key, an expression, several columns), in
 * which case a prune deletes row by row through the parent, which is always correct, only slower.
 */
export async function listTimePartitions(db: Db, mapping: ResolvedMapping, cutoff: string): Promise<TimePartition[] | undefined> {
  if (!mapping.partitioned) return undefined;
  const parent = sql`to_regclass(quote_ident(${mapping.table.schema}) || '.' || quote_ident(${mapping.table.name}))`;
  const key = await sql<{ column: string | null }>`
    select a.attname as column
    from pg_partitioned_table pt
    left join pg_attribute a on a.attrelid = pt.partrelid and a.attnum = pt.partattrs[0]
    where pt.partrelid = ${parent} and pt.partstrat = 'r' and pt.partnatts = 1`.execute(db);
  if (key.rows[0]?.column !== mapping.columns.timestamp?.name) return undefined;
  const type = mapping.columns.timestamp?.type === 'timestamp' ? sql.raw('timestamp') : sql.raw('timestamptz');
  const upper = sql`replace((regexp_match(pg_get_expr(c.relpartbound, c.oid), ${UPPER_BOUND}))[1], '''''', '''')`;
  const asUtc = mapping.columns.timestamp?.type === 'timestamp' ? sql`cast(upper as timestamp)` : sql`cast(upper as timestamptz) at time zone 'UTC'`;
  const result = await sql<{ schema: string; name: string; upper_bound: string | null; wholly_before: boolean | null; leaf_oids: string[] }>`
    select schema, name, to_char(${asUtc}, ${ISO_FORMAT}) as upper_bound,
           cast(upper as ${type}) <= ${timestampValue(mapping, { kind: 'absolute', iso: cutoff })} as wholly_before,
           leaf_oids
    from (
      select n.nspname as schema, c.relname as name, ${upper} as upper,
             array(select t.relid::oid::int8::text from pg_partition_tree(c.oid) t where t.isleaf) as leaf_oids
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_namespace n on n.oid = c.relnamespace
      where i.inhparent = ${parent}
    ) as partitions
    order by cast(upper as ${type}) nulls last, name`.execute(db);
  return result.rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    upperBound: row.upper_bound ?? undefined,
    whollyBefore: row.wholly_before === true,
    leafOids: row.leaf_oids.map(Number),
  }));
}

/** `schema.name` of a partition, for messages and the summary. */
export function partitionName(partition: Pick<TimePartition, 'schema' | 'name'>): string {
  return `${partition.schema}.${partition.name}`;
}

/** Partition names come from the catalog, not from validated config: each part is quoted, never split on dots. */
export const partitionRef = (partition: Pick<TimePartition, 'schema' | 'name'>) => sql.id(partition.schema, partition.name);

/**
 * `lock_timeout` for the statements that lock the parent table: DETACH PARTITION needs an ACCESS EXCLUSIVE lock
 * on it, and while it waits for one, the control plane's inserts queue behind it. Waiting at most this long bounds
 * that stall; a prune that cannot get the lock retries, then leaves the partition to row-by-row deletion.
 */
export const DDL_LOCK_TIMEOUT = '200ms';

/**
 * Detaches a wholly-old partition and drops it (or keeps it as a plain table with `keep`), in the caller's
 * transaction: a crash rolls both back, so the partition is either still attached or gone, never orphaned.
 */
export async function detachPartition(trx: Db, mapping: ResolvedMapping, partition: TimePartition, keep: boolean): Promise<void> {
  const child = partitionRef(partition);
  await sql`set local lock_timeout = ${sql.lit(DDL_LOCK_TIMEOUT)}`.execute(trx);
  await sql`alter table ${sql.table(tableRef(mapping))} detach partition ${child}`.execute(trx);
  if (!keep) await sql`drop table ${child}`.execute(trx);
}

/**
 * Locks a partition against writes (reads go on) so that what is archived from it is exactly what is dropped. Only
 * the old partition is locked, which the control plane no longer writes to.
 */
export async function lockPartitionForArchive(trx: Db, partition: TimePartition): Promise<void> {
  await sql`set local lock_timeout = ${sql.lit(DDL_LOCK_TIMEOUT)}`.execute(trx);
  await sql`lock table ${partitionRef(partition)} in share mode`.execute(trx);
}

/** True for "canceling statement due to lock timeout" (SQLSTATE 55P03) and deadlocks (40P01): worth a retry. */
export function isLockConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '55P03' || code === '40P01';
}
