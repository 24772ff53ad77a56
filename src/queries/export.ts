import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { entrySelection, idRef, idValue, qualifiedRef, timestampRef, timestampValue, type Position } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import type { ExportFields, ExportRecord } from '../sinks/types.js';
import { allOf, filterConditions, type EntryFilters } from './filters.js';
import { PAGE_SIZE } from './list.js';
import { tableRef } from './table-ref.js';

export interface ExportQuery {
  filters: EntryFilters;
  /** Continue strictly after this position (the checkpoint). */
  after?: Position;
  /** Only entries before this position's timestamp: frozen once per run (now() minus the settle window). */
  before: string;
}

/** Row as the server sends it: JSON built by PostgreSQL, plus the few plain fields sinks index on. */
export interface ExportRow extends ExportFields {
  id: string;
  timestamp: string;
  time_ms: string;
  json: string;
}

/**
 * The upper bound of a run: now() minus the settle window, by the database clock. Entries newer than this are left
 * for the next run, so a transaction that commits late (its created_at is its start time) is not skipped.
 */
export async function exportUpperBound(db: Db, settleSeconds: number): Promise<string> {
  const result = await sql<{ bound: string }>`
    select to_char((now() - make_interval(secs => ${settleSeconds})) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as bound`.execute(db);
  return (result.rows[0] as { bound: string }).bound;
}

/** The filters plus the run's window: after the checkpoint, before the settle bound. */
function exportConditions(mapping: ResolvedMapping, query: ExportQuery) {
  const ts = timestampRef(mapping);
  const conditions = filterConditions(mapping, query.filters);
  conditions.push(sql<boolean>`${ts} < ${timestampValue(mapping, { kind: 'absolute', iso: query.before })}`);
  if (query.after) {
    const bound = sql`(${timestampValue(mapping, query.after)}, ${idValue(mapping, query.after.id)})`;
    conditions.push(sql<boolean>`(${ts}, ${idRef(mapping)}) > ${bound}`);
  }
  return allOf(conditions);
}

/** How many entries a run would ship (for --dry-run). */
export async function countExport(db: Db, mapping: ResolvedMapping, query: ExportQuery): Promise<number> {
  const row = await db
    .selectFrom(tableRef(mapping))
    .select(sql<string>`count(*)`.as('count'))
    .where(exportConditions(mapping, query))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** The plain fields sinks index on, read beside the JSON text so that no sink has to parse it. */
const FIELDS = ['operator', 'operation', 'resource_type', 'resource_id', 'source_ip', 'source'] as const;

/**
 * One page in (timestamp, id) order (ascending unless asked); the server builds each entry's JSON text. The page is
 * an index range scan (`p`); each of its rows is turned into the canonical fields once (`e`, a lateral subselect),
 * and `row_to_json(e)` serializes them: measured 10 % less server time than `json_build_object` with the same
 * values, and the separate fields come from the same computed row.
 */
export function buildExportPageQuery(db: Db, mapping: ResolvedMapping, query: ExportQuery, limit: number, order: 'asc' | 'desc' = 'asc') {
  const direction = sql.raw(order);
  const page = db
    .selectFrom(tableRef(mapping))
    .selectAll()
    .where(exportConditions(mapping, query))
    .orderBy(sql`${qualifiedRef(mapping, 'timestamp')} ${direction}`)
    .orderBy(sql`${qualifiedRef(mapping, 'id')} ${direction}`)
    .limit(limit);
  // Inside `e`, the field expressions' bare column names can only mean the columns of `p`.
  const entry = db.selectNoFrom(entrySelection(mapping));
  const pageColumn = (field: 'id' | 'timestamp') => sql.ref(`p.${(mapping.columns[field] as { name: string }).name}`);
  const ts = pageColumn('timestamp');
  const epochMs = mapping.columns.timestamp?.type === 'timestamp'
    ? sql`(extract(epoch from ${ts} at time zone 'UTC') * 1000)::bigint::text`
    : sql`(extract(epoch from ${ts}) * 1000)::bigint::text`;
  return db
    .selectFrom(page.as('p'))
    .innerJoinLateral(entry.as('e'), (join) => join.onTrue())
    .select([
      sql.ref('e.id').as('id'),
      sql.ref('e.timestamp').as('timestamp'),
      epochMs.as('time_ms'),
      sql<string>`row_to_json(${sql.table('e')})::text`.as('json'),
      ...FIELDS.map((field) => sql.ref(`e.${field}`).as(field)),
    ])
    .orderBy(sql`${ts} ${direction}`)
    .orderBy(sql`${pageColumn('id')} ${direction}`);
}

/** Pages fetched ahead of the consumer, at most: PostgreSQL keeps building JSON while the pipeline waits on a sink. */
const READ_AHEAD = 2;

/**
 * Streams export records a page at a time. Each page is requested as soon as the previous one arrives (its last
 * position is the next page's start), not when the consumer asks for it, up to {@link READ_AHEAD} pages ahead: the
 * database works while the caller masks and ships, and memory holds at most READ_AHEAD + 1 pages.
 */
export async function* streamExportRecords(
  db: Db,
  mapping: ResolvedMapping,
  query: ExportQuery,
  transform: (json: string) => string,
): AsyncGenerator<ExportRecord[]> {
  const ready: Promise<ExportRow[]>[] = [];
  let after = query.after;
  let fetching = false;
  let finished = false;
  let closed = false;
  const fetchNext = (): void => {
    if (fetching || finished || closed || ready.length >= READ_AHEAD) return;
    fetching = true;
    const page = fetchExportRows(db, mapping, { ...query, after }, PAGE_SIZE).then(
      (rows) => {
        fetching = false;
        const last = rows.at(-1);
        if (last && rows.length === PAGE_SIZE) after = { timestamp: last.timestamp, id: last.id };
        else finished = true;
        fetchNext();
        return rows;
      },
      (error: unknown) => {
        fetching = false;
        finished = true;
        throw error;
      },
    );
    // A failed read-ahead is reported when it is awaited; until then it must not count as unhandled.
    page.catch(() => undefined);
    ready.push(page);
  };
  try {
    fetchNext();
    for (let page = ready.shift(); page; page = ready.shift()) {
      const rows = await page;
      fetchNext();
      if (rows.length > 0) yield rows.map((row) => toRecord(row, transform));
    }
  } finally {
    // No query may start once the consumer is gone: the transaction is about to end.
    closed = true;
  }
}

/** Rows of one page, as records' raw material. */
export function fetchExportRows(db: Db, mapping: ResolvedMapping, query: ExportQuery, limit: number, order: 'asc' | 'desc' = 'asc'): Promise<ExportRow[]> {
  return buildExportPageQuery(db, mapping, query, limit, order).execute() as unknown as Promise<ExportRow[]>;
}

export function toRecord(row: ExportRow, transform: (json: string) => string): ExportRecord {
  return {
    id: row.id,
    timestamp: row.timestamp,
    timeMs: Number(row.time_ms),
    json: transform(row.json),
    fields: {
      operator: row.operator,
      operation: row.operation,
      resource_type: row.resource_type,
      resource_id: row.resource_id,
      source_ip: row.source_ip,
      source: row.source,
    } satisfies ExportFields,
  };
}
