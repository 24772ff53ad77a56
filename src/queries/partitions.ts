import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { timestampValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { removeArchivedFirst, type EntryArchive } from '../db/archive-first.js';
import type { Position } from '../domain.js';
import { readJsonPage } from './prune.js';
import { tableRef } from './table-ref.js';
import { InterruptedError } from '../errors.js';

/** A partition of the audit table, with what its bound says about the cutoff. */
export interface TimePartition {
  schema: string;
  name: string;
  /** Exclusive upper bound of its time range, ISO 8601 UTC; undefined for MAXVALUE or a DEFAULT partition. */
  upperBound?: string;
  /**
   * Every row it can hold is before the cutoff: it can be dropped whole instead of deleted row by row. Never a foreign
   * table: its bound is not enforced on the remote rows, which a DROP would not delete anyway (they go row by row).
   */
  whollyBefore: boolean;
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
  const result = await sql<{ schema: string; name: string; upper_bound: string | null; wholly_before: boolean | null }>`
    select schema, name, to_char(${asUtc}, ${ISO_FORMAT}) as upper_bound,
           not foreign_table and cast(upper as ${type}) <= ${timestampValue(mapping, { kind: 'absolute', iso: cutoff })} as wholly_before
    from (
      select n.nspname as schema, c.relname as name, ${upper} as upper, c.relkind = 'f' as foreign_table
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

const setLockTimeout = (trx: Db) => sql`set local lock_timeout = ${sql.lit(DDL_LOCK_TIMEOUT)}`.execute(trx);

/**
 * Locks a wholly-old partition against writes (reads go on), so that what is counted or archived from it is
 * exactly what is detached. Only that partition is locked, which the control plane no longer writes to.
 */
export async function lockPartition(trx: Db, partition: TimePartition): Promise<void> {
  await setLockTimeout(trx);
  await sql`lock table ${partitionRef(partition)} in share mode`.execute(trx);
}

/** Entries in a partition: an index-only scan when the visibility map allows. */
export async function countPartition(trx: Db, partition: TimePartition): Promise<number> {
  const result = await sql<{ count: string }>`select count(*)::text as count from ${partitionRef(partition)}`.execute(trx);
  return Number(result.rows[0]?.count ?? 0);
}

/** The comment that marks a detached partition as due for DROP, should the prune stop before dropping it. */
export function dropMarker(mapping: ResolvedMapping): string {
  return `api7-audit prune: detached from ${tableRef(mapping)}, to be dropped`;
}

/**
 * Detaches a partition in the caller's transaction, which should commit at once: the parent's ACCESS EXCLUSIVE
 * lock is held from here to the commit, and a catalog change commits in milliseconds. Dropping the table is left
 * to {@link dropDetached} in a transaction of its own, because a DROP commits only once its files are unlinked
 * (decision 004), time the parent must not stay locked for. Unless the
 * table is to be kept, it is marked, so that a prune stopped between the two steps drops it on its next run.
 */
export async function detachPartition(trx: Db, mapping: ResolvedMapping, partition: TimePartition, keep: boolean): Promise<void> {
  await setLockTimeout(trx);
  await sql`alter table ${sql.table(tableRef(mapping))} detach partition ${partitionRef(partition)}`.execute(trx);
  if (!keep) await sql`comment on table ${partitionRef(partition)} is ${sql.lit(dropMarker(mapping))}`.execute(trx);
}

/** What {@link removePartition} does with a partition's entries before it goes. */
export interface RemovePartitionOptions {
  /** --detach-only: the partition stays a table of its own. */
  keep: boolean;
  /** Copy the partition's entries here first (archive before commit: {@link removeArchivedFirst}). */
  archive?: EntryArchive;
  /** Entries read per query when archiving. */
  pageSize: number;
  onArchived?: (entries: number) => void;
  /** Ctrl-C: the copy stops between pages, and the transaction rolls back (its pages are cut from the archive). */
  signal?: AbortSignal;
  /**
   * Runs the DETACH again while it times out on the parent's lock: each attempt in a savepoint, so that what was
   * counted or archived under the partition's lock stays valid and is not copied again for each attempt.
   */
  retryDetach?: (attempt: () => Promise<void>) => Promise<void>;
}

/**
 * One short transaction: locks a partition wholly before the cutoff against writes, counts it (or, with an archive,
 * copies it out, so the archive holds exactly what goes), and detaches it. Returns the number of entries it held.
 */
export async function removePartition(conn: Db, mapping: ResolvedMapping, partition: TimePartition, options: RemovePartitionOptions): Promise<number> {
  const remove = async (trx: Db, keep?: (json: readonly string[]) => Promise<void>) => {
    await lockPartition(trx, partition);
    const count = keep ? await archivePartition(trx, mapping, partition, keep, options) : await countPartition(trx, partition);
    const detach = () => inSavepoint(trx, () => detachPartition(trx, mapping, partition, options.keep));
    await (options.retryDetach ? options.retryDetach(detach) : detach());
    return count;
  };
  return options.archive ? removeArchivedFirst(conn, options.archive, remove) : conn.transaction().execute((trx) => remove(trx));
}

/** Runs `fn` in a savepoint of `trx`, rolled back to when `fn` fails: the transaction can go on (a DETACH retried). */
async function inSavepoint(trx: Db, fn: () => Promise<void>): Promise<void> {
  await sql`savepoint detach_partition`.execute(trx);
  try {
    await fn();
  } catch (error) {
    // A rollback that fails (the connection lost) leaves the transaction unusable: the first error says why.
    await sql`rollback to savepoint detach_partition`.execute(trx).catch(() => {
      throw error;
    });
    throw error;
  }
  await sql`release savepoint detach_partition`.execute(trx);
}

/** Copies a locked partition out, page by page in (timestamp, id) order; returns how many entries. */
async function archivePartition(
  trx: Db,
  mapping: ResolvedMapping,
  partition: TimePartition,
  keep: (json: readonly string[]) => Promise<void>,
  options: RemovePartitionOptions,
): Promise<number> {
  let from: Position | undefined;
  let entries = 0;
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError(`interrupted while archiving ${partitionName(partition)}; it is intact`);
    const page = await readJsonPage(trx, mapping, partitionRef(partition), from, options.pageSize);
    if (!page.end) return entries;
    await keep(page.json);
    entries += page.json.length;
    from = page.end;
    options.onArchived?.(entries);
  }
}

/** Drops a table detached by {@link detachPartition}; it is no longer part of the audit table, so nobody waits on it. */
export async function dropDetached(db: Db, partition: Pick<TimePartition, 'schema' | 'name'>): Promise<void> {
  await sql`drop table if exists ${partitionRef(partition)}`.execute(db);
}

/** Tables detached by an earlier prune of this table that stopped before dropping them. */
export async function findDetachedLeftovers(db: Db, mapping: ResolvedMapping): Promise<Pick<TimePartition, 'schema' | 'name'>[]> {
  const result = await sql<{ schema: string; name: string }>`
    select n.nspname as schema, c.relname as name
    from pg_description d
    join pg_class c on c.oid = d.objoid
    join pg_namespace n on n.oid = c.relnamespace
    where d.classoid = 'pg_class'::regclass and d.objsubid = 0 and d.description = ${dropMarker(mapping)}
      and c.relkind in ('r', 'p') and not c.relispartition
    order by 1, 2`.execute(db);
  return result.rows;
}

/** True for "canceling statement due to lock timeout" (SQLSTATE 55P03) and deadlocks (40P01): worth a retry. */
export function isLockConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '55P03' || code === '40P01';
}

/** "must be owner of table" and "permission denied" (SQLSTATE 42501): DETACH needs the owner, DELETE does not. */
export function isInsufficientPrivilege(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '42501';
}
