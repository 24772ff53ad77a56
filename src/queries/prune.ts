import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/connect.js';
import { entryJsonExpression, fieldExpression, idRef, idValue, timestampRef, timestampValue, type Position } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { allOf } from './filters.js';
import { tableRef } from './table-ref.js';

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
  const conditions = [sql<boolean>`${timestampRef(mapping)} < ${timestampValue(mapping, { kind: 'absolute', iso: bound.before })}`];
  if (bound.upTo) conditions.push(...atOrBefore(mapping, bound.upTo));
  return conditions;
}

/**
 * `(ts, id) <= position`, with a plain `ts <= position.ts` beside it. The row comparison alone is estimated so
 * poorly that, with a lower and an upper one, PostgreSQL 15 chose an index that merely contains the timestamp
 * column and scanned 30 times more (measured: 31 ms instead of 1.5 ms for a 1,000-row batch); the plain range
 * keeps the (timestamp, id) index.
 */
function atOrBefore(mapping: ResolvedMapping, position: Position): RawBuilder<boolean>[] {
  const ts = timestampRef(mapping);
  const value = timestampValue(mapping, position);
  return [sql<boolean>`${ts} <= ${value}`, sql<boolean>`(${ts}, ${idRef(mapping)}) <= (${value}, ${idValue(mapping, position.id)})`];
}

/** `(ts, id) > position`, with `ts >= position.ts` for the same reason as {@link atOrBefore}. */
function after(mapping: ResolvedMapping, position: Position | undefined): RawBuilder<boolean>[] {
  if (!position) return [];
  const ts = timestampRef(mapping);
  const value = timestampValue(mapping, position);
  return [sql<boolean>`${ts} >= ${value}`, sql<boolean>`(${ts}, ${idRef(mapping)}) > (${value}, ${idValue(mapping, position.id)})`];
}

/**
 * How many entries are before the cutoff, and the oldest and newest of them: an index-only range scan for the
 * count (nothing but the indexed column may be read for that: grouping by tableoid made it a heap scan, 0.5 s for
 * 1M entries) and one index probe at each end.
 */
export async function matchEntries(db: Db, mapping: ResolvedMapping, bound: PruneBound): Promise<PruneMatch> {
  const where = allOf(boundConditions(mapping, bound));
  const ts = timestampRef(mapping);
  const id = idRef(mapping);
  const timestamp = fieldExpression(mapping, 'timestamp');
  const table = sql.table(tableRef(mapping));
  const result = await sql<{ count: string; oldest: string | null; newest: string | null }>`
    select (select count(*) from ${table} where ${where})::text as count,
           (select ${timestamp} from ${table} where ${where} order by ${ts} asc, ${id} asc limit 1) as oldest,
           (select ${timestamp} from ${table} where ${where} order by ${ts} desc, ${id} desc limit 1) as newest`.execute(db);
  const row = result.rows[0];
  return { matched: Number(row?.count ?? 0), oldest: row?.oldest ?? undefined, newest: row?.newest ?? undefined };
}

/** Where the next batch starts and ends: its first timestamp, and the (timestamp, id) of its last entry. */
export interface BatchRange {
  start: string;
  end: Position;
}

/**
 * The range of the next `size` entries after `from`, in index order: an index-only scan that starts where the
 * previous batch ended, so it never walks over the dead index entries that earlier batches left.
 */
export function buildBatchRangeQuery(db: Db, mapping: ResolvedMapping, bound: PruneBound, from: Position | undefined, size: number) {
  const ts = timestampRef(mapping);
  const id = idRef(mapping);
  const batch = db
    .selectFrom(tableRef(mapping))
    .select([ts.as(columnName(mapping, 'timestamp')), id.as(columnName(mapping, 'id'))])
    .where(allOf([...boundConditions(mapping, bound), ...after(mapping, from)]))
    .orderBy(ts)
    .orderBy(id)
    .limit(size);
  // The outer select sees the inner columns under the table's own column names, so the usual field expressions
  // apply. ORDER BY names them qualified: a bare "id" would mean the text output column and sort 60 after 180.
  return db
    .selectFrom(batch.as('batch'))
    .select([
      formatTimestamp(mapping, sql`min(${ts}) over ()`).as('start'),
      fieldExpression(mapping, 'timestamp').as('timestamp'),
      fieldExpression(mapping, 'id').as('id'),
    ])
    .orderBy(sql`${qualified('batch', mapping, 'timestamp')} desc`)
    .orderBy(sql`${qualified('batch', mapping, 'id')} desc`)
    .limit(1);
}

/**
 * Deletes one batch: the rows of `range`, found through the (timestamp, id) index in order and deleted by row
 * address, each re-checked against the cutoff and the range. Deleting by the range alone leaves the plan to row
 * estimates, and stale ones (half the table just deleted, not yet analyzed) turned a one-row batch into a 250 ms
 * sequential scan; `ctid = ANY(ARRAY(ordered subquery))` is a TID scan whatever the statistics say. The re-check
 * makes the addresses a mere access path: a row updated meanwhile (it moved) is skipped, not mistaken, and the
 * same address in another partition is deleted only if it lies in this range before the cutoff, where it belongs
 * to the batch anyway.
 */
export function buildBatchDeleteQuery(db: Db, mapping: ResolvedMapping, bound: PruneBound, from: Position | undefined, range: BatchRange, size: number) {
  const ts = timestampRef(mapping);
  const start = sql<boolean>`${ts} >= ${timestampValue(mapping, { timestamp: range.start, id: '' })}`;
  const inRange = allOf([...boundConditions(mapping, bound), start, ...after(mapping, from), ...atOrBefore(mapping, range.end)]);
  const rows = db.selectFrom(tableRef(mapping)).select(sql`ctid`.as('ctid')).where(inRange).orderBy(ts).orderBy(idRef(mapping)).limit(size);
  return db.deleteFrom(tableRef(mapping)).where(sql<boolean>`ctid = any(array(${rows}))`).where(inRange);
}

/**
 * Deletes the next batch on `trx` (which the caller commits): finds where it ends, then deletes that range. Run in
 * one transaction, the archive of `json` can be written and flushed before the commit.
 */
export async function deleteBatch(
  trx: Db,
  mapping: ResolvedMapping,
  bound: PruneBound,
  from: Position | undefined,
  size: number,
  archive: boolean,
): Promise<DeletedBatch> {
  const row = (await buildBatchRangeQuery(trx, mapping, bound, from, size).executeTakeFirst()) as (Position & { start: string }) | undefined;
  if (!row) return { deleted: 0, json: [] };
  const end = { timestamp: row.timestamp, id: row.id };
  const query = buildBatchDeleteQuery(trx, mapping, bound, from, { start: row.start, end }, size);
  if (archive) {
    const rows = await query.returning(entryJsonExpression(mapping).as('json')).execute();
    return { deleted: rows.length, end, json: rows.map((row) => (row as { json: string }).json) };
  }
  const result = await query.executeTakeFirst();
  return { deleted: Number(result.numDeletedRows), end, json: [] };
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
    .select([entryJsonExpression(mapping).as('json'), fieldExpression(mapping, 'timestamp').as('timestamp'), fieldExpression(mapping, 'id').as('id')])
    .where(allOf(after(mapping, from)))
    .orderBy(qualified('entries', mapping, 'timestamp'))
    .orderBy(qualified('entries', mapping, 'id'))
    .limit(size)
    .execute()) as { json: string; timestamp: string; id: string }[];
  const last = rows.at(-1);
  return { json: rows.map((row) => row.json), end: last && { timestamp: last.timestamp, id: last.id } };
}

/** A timestamp expression as microsecond ISO text in UTC, like the entry `timestamp` field. */
function formatTimestamp(mapping: ResolvedMapping, value: RawBuilder<unknown>): RawBuilder<string> {
  return mapping.columns.timestamp?.type === 'timestamp'
    ? sql<string>`to_char(${value}, ${ISO_FORMAT})`
    : sql<string>`to_char(${value} at time zone 'UTC', ${ISO_FORMAT})`;
}

/** `alias.column` for ORDER BY, where a bare name would pick an output column of the same name first. */
function qualified(alias: string, mapping: ResolvedMapping, field: 'id' | 'timestamp'): RawBuilder<unknown> {
  return sql.ref(`${alias}.${columnName(mapping, field)}`);
}

function columnName(mapping: ResolvedMapping, field: 'id' | 'timestamp'): string {
  return (mapping.columns[field] as { name: string }).name;
}
