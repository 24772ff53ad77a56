import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/connect.js';
import { entryJsonExpression, entryTimestamp, fieldExpression, idRef, idValue, keysetTimestamp, keysetValue, timeBoundCondition, timestampRef, timestampValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { removeArchivedFirst, type EntryArchive } from '../db/archive-first.js';
import { allOf } from './filters.js';
import { tableRef } from './table-ref.js';
import type { Position } from '../domain.js';

/**
 * Which entries a prune may delete. Every statement a prune runs carries these conditions, so no batch can reach an
 * entry outside them whatever happens to the table meanwhile.
 */
export interface PruneBound {
  /** Entries strictly before this time go: the cutoff, frozen at the start (ISO 8601 UTC, microseconds). */
  before: string;
  /**
   * Nothing after this (timestamp, id) position is deleted either: the last exported entry, for a prune that may
   * only remove what an export has already delivered (`prune --only-exported CHECKPOINT`).
   */
  upTo?: Position;
}

/** What the cutoff leaves to delete, before anything is deleted. */
export interface PruneMatch {
  matched: number;
  oldest?: string;
  newest?: string;
}

/** One batch as deleted: how many rows went, where the next batch starts, and the rows as JSON when archiving. */
export interface DeletedBatch {
  deleted: number;
  /** The last position of the batch; undefined when nothing was left to delete. */
  end?: Position;
  json: string[];
}

// Microsecond ISO text, identical to the entry `timestamp` field, so a cutoff printed can be fed back exactly.
const ISO_FORMAT = sql.raw(`'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`);

/**
 * The cutoff `now() - N days` by the database clock, as microsecond ISO text, computed once and then bound as a
 * parameter so that a run lasting hours does not move it. Days are counted in UTC (N × 24 h): the session time zone
 * and its daylight-saving changes cannot shift it.
 */
export async function computeCutoff(db: Db, retentionDays: number): Promise<string> {
  const result = await sql<{ cutoff: string }>`
    select to_char((now() at time zone 'UTC') - make_interval(days => ${retentionDays}::int), ${ISO_FORMAT}) as cutoff`.execute(db);
  return (result.rows[0] as { cutoff: string }).cutoff;
}

/** The conditions every pruned row meets: before the cutoff and, when given, at or before `upTo`. */
export function boundConditions(mapping: ResolvedMapping, bound: PruneBound): RawBuilder<boolean>[] {
  // By the instant each entry prints: on a local-time column the raw value alone put entries of an hour repeated in
  // autumn on the wrong side of the cutoff, and prune deleted an entry after it (decisions/012).
  const conditions = [timeBoundCondition(mapping, '<', { kind: 'absolute', iso: bound.before })];
  if (bound.upTo) conditions.push(...atOrBefore(mapping, bound.upTo));
  return conditions;
}

/** `(ts, id) <= position`, with a plain `ts <= position.ts` beside it that keeps the planner on the (timestamp, id) index (decision 004). */
function atOrBefore(mapping: ResolvedMapping, position: Position): RawBuilder<boolean>[] {
  // Export continues a fractional epoch or a local time by the instant it prints: the checkpoint means that order.
  const ts = keysetTimestamp(mapping);
  const value = keysetValue(mapping, position);
  return [sql<boolean>`${ts} <= ${value}`, sql<boolean>`(${ts}, ${idRef(mapping)}) <= (${value}, ${idValue(mapping, position.id)})`];
}

/** `(ts, id) > position`, with `ts >= position.ts` for the same reason as {@link atOrBefore}. */
function after(mapping: ResolvedMapping, position: Position | undefined): RawBuilder<boolean>[] {
  if (!position) return [];
  const ts = timestampRef(mapping);
  const value = timestampValue(mapping, position);
  return [sql<boolean>`${ts} >= ${value}`, sql<boolean>`(${ts}, ${idRef(mapping)}) > (${value}, ${idValue(mapping, position.id)})`];
}

/** How many entries are before the cutoff (an index-only range scan: decision 004), and the oldest and newest of them. */
export async function matchEntries(db: Db, mapping: ResolvedMapping, bound: PruneBound): Promise<PruneMatch> {
  const where = allOf(boundConditions(mapping, bound));
  const ts = timestampRef(mapping);
  const id = idRef(mapping);
  const timestamp = entryTimestamp(mapping);
  const table = sql.table(tableRef(mapping));
  const result = await sql<{ count: string; oldest: string | null; newest: string | null }>`
    select (select count(*) from ${table} where ${where})::text as count,
           (select ${timestamp} from ${table} where ${where} order by ${ts} asc, ${id} asc limit 1) as oldest,
           (select ${timestamp} from ${table} where ${where} order by ${ts} desc, ${id} desc limit 1) as newest`.execute(db);
  const row = result.rows[0];
  return { matched: Number(row?.count ?? 0), oldest: row?.oldest ?? undefined, newest: row?.newest ?? undefined };
}

/**
 * The prune connection's settings, for the whole run: always the index (`enable_seqscan = off`), no wait for the WAL
 * flush (`synchronous_commit = off`: a lost commit only leaves rows to the next run), and dirty pages written as it
 * goes (`backend_flush_after`, best effort) so no checkpoint stalls a batch. Why, with the numbers: decision 004.
 */
export async function setPruneSession(conn: Db): Promise<void> {
  await sql`set enable_seqscan = off`.execute(conn);
  await sql`set synchronous_commit = off`.execute(conn);
  await sql`set backend_flush_after = '256kB'`.execute(conn).catch(() => undefined);
}

/** Undoes {@link setPruneSession}; best effort, as the connection may be gone. */
export async function resetPruneSession(conn: Db): Promise<void> {
  for (const setting of ['enable_seqscan', 'synchronous_commit', 'backend_flush_after']) {
    await sql`reset ${sql.raw(setting)}`.execute(conn).catch(() => undefined);
  }
}

/**
 * Deletes the next batch in one statement: the first `size` entries after `from` in (timestamp, id) order. Where the
 * batch ends (`last`) is read from the (timestamp, id) index alone; the DELETE then takes the range from `from` to
 * `last` on the same index, each row re-checked against the cutoff. The prune's session forbids sequential scans
 * ({@link setPruneSession}), so stale statistics cannot turn a batch into a scan of the whole table (decision 004 has
 * the measurements against a TID-scan delete). A row inserted meanwhile inside the range, older than the cutoff, goes
 * with the batch: it is as old as the rest.
 *
 * Returns one row while the batch is not empty (none when nothing is left): the batch's last position as entry
 * fields, and either the count of deleted rows or, when archiving, one row per deleted entry with its JSON.
 */
export function buildBatchDeleteQuery(mapping: ResolvedMapping, bound: PruneBound, from: Position | undefined, size: number, archive: boolean) {
  const table = sql.table(tableRef(mapping));
  const ts = timestampRef(mapping);
  const id = idRef(mapping);
  const inBound = allOf([...boundConditions(mapping, bound), ...after(mapping, from)]);
  const inBatch = allOf([
    inBound,
    sql<boolean>`${ts} <= (select ${ts} from last)`,
    sql<boolean>`(${ts}, ${id}) <= (select ${ts}, ${id} from last)`,
  ]);
  const returned = archive ? sql`${entryJsonExpression(mapping)} as json` : sql`1 as one`;
  // A position's text as entries print it: to_char's (44 BC as 0044) read back as AD 44 and skipped the years between.
  const last = sql`${entryTimestamp(mapping)} as timestamp, ${fieldExpression(mapping, 'id')} as id`;
  const result = archive
    ? sql`select ${last}, deleted.json from last left join deleted on true`
    : sql`select ${last}, (select count(*) from deleted)::int as deleted from last`;
  // Inside `last`, the bare column names are those of the batch subquery, which carry the table's names.
  return sql<BatchRow>`
    with last as (
      select ${ts}, ${id} from (select ${ts}, ${id} from ${table} where ${inBound} order by ${ts}, ${id} limit ${size}) as batch
      order by ${ts} desc, ${id} desc limit 1
    ), deleted as (
      delete from ${table} where ${inBatch} returning ${returned}
    )
    ${result}`;
}

/** A row of {@link buildBatchDeleteQuery}: the batch's last position, and its count or one deleted entry's JSON. */
interface BatchRow extends Position {
  deleted?: number;
  json?: string | null;
}

/**
 * Deletes the next batch. Without an archive the statement commits on its own; with one, the deleted entries' JSON is
 * on disk before the batch commits ({@link removeArchivedFirst}).
 */
export async function deleteBatch(
  db: Db,
  mapping: ResolvedMapping,
  bound: PruneBound,
  from: Position | undefined,
  size: number,
  archive?: EntryArchive,
): Promise<DeletedBatch> {
  if (!archive) return readBatch(await buildBatchDeleteQuery(mapping, bound, from, size, false).execute(db), false);
  return removeArchivedFirst(db, archive, async (trx, keep) => {
    const batch = readBatch(await buildBatchDeleteQuery(mapping, bound, from, size, true).execute(trx), true);
    await keep(batch.json);
    return batch;
  });
}

function readBatch({ rows }: { rows: BatchRow[] }, archived: boolean): DeletedBatch {
  const first = rows[0];
  if (!first) return { deleted: 0, json: [] };
  const end = { timestamp: first.timestamp, id: first.id };
  if (!archived) return { deleted: Number(first.deleted ?? 0), end, json: [] };
  const json = rows.flatMap((row) => (row.json === null || row.json === undefined ? [] : [row.json]));
  return { deleted: json.length, end, json };
}

/**
 * One page of entries as canonical JSON, in (timestamp, id) order after `from`, read from `source` (one partition
 * of the audit table, which has the parent's columns): to archive a partition before it is dropped.
 */
export async function readJsonPage(
  db: Db,
  mapping: ResolvedMapping,
  source: RawBuilder<unknown>,
  from: Position | undefined,
  size: number,
): Promise<{ json: string[]; end?: Position }> {
  const rows = (await db
    .selectFrom(source.as('entries'))
    .select([entryJsonExpression(mapping).as('json'), entryTimestamp(mapping).as('timestamp'), fieldExpression(mapping, 'id').as('id')])
    .where(allOf(after(mapping, from)))
    .orderBy(qualified('entries', mapping, 'timestamp'))
    .orderBy(qualified('entries', mapping, 'id'))
    .limit(size)
    .execute()) as { json: string; timestamp: string; id: string }[];
  const last = rows.at(-1);
  return { json: rows.map((row) => row.json), end: last && { timestamp: last.timestamp, id: last.id } };
}

/** `alias.column` for ORDER BY, where a bare name would pick an output column of the same name first. */
function qualified(alias: string, mapping: ResolvedMapping, field: 'id' | 'timestamp'): RawBuilder<unknown> {
  return sql.ref(`${alias}.${columnName(mapping, field)}`);
}

function columnName(mapping: ResolvedMapping, field: 'id' | 'timestamp'): string {
  return (mapping.columns[field] as { name: string }).name;
}
