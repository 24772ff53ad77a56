import { sql } from 'kysely';
import type { AuditEntry } from '../entry.js';
import type { Db } from '../db/connect.js';
import { entrySelection, idRef, idValue, qualifiedRef, timestampRef, timestampValue, type Position } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { allOf, filterConditions, type EntryFilters } from './filters.js';
import { tableRef } from './table-ref.js';

export type SortOrder = 'asc' | 'desc';

export interface ListQuery {
  filters: EntryFilters;
  order: SortOrder;
  /** Start strictly after this position in the chosen order (keyset pagination, never OFFSET). */
  after?: Position;
  /** False: `before` and `after` come back null (the table never shows them). Default true. */
  states?: boolean;
}

/** Rows per round trip when streaming: measured faster and half the memory of 5,000-row batches. */
export const PAGE_SIZE = 1000;

/** One page of entries in (timestamp, id) order; ties on the timestamp are broken by id. */
export function buildListQuery(db: Db, mapping: ResolvedMapping, query: ListQuery, limit: number) {
  const ts = timestampRef(mapping);
  const id = idRef(mapping);
  const conditions = filterConditions(mapping, query.filters);
  if (query.after) {
    const bound = sql`(${timestampValue(mapping, query.after)}, ${idValue(mapping, query.after.id)})`;
    conditions.push(query.order === 'desc' ? sql<boolean>`(${ts}, ${id}) < ${bound}` : sql<boolean>`(${ts}, ${id}) > ${bound}`);
  }
  const direction = sql.raw(query.order);
  return db
    .selectFrom(tableRef(mapping))
    .select(entrySelection(mapping, { states: query.states }))
    .where(allOf(conditions))
    .orderBy(sql`${qualifiedRef(mapping, 'timestamp')} ${direction}`)
    .orderBy(sql`${qualifiedRef(mapping, 'id')} ${direction}`)
    .limit(limit);
}

export async function fetchPage(db: Db, mapping: ResolvedMapping, query: ListQuery, limit: number): Promise<AuditEntry[]> {
  // The selection is built from CANONICAL_FIELDS at run time, so Kysely cannot infer the row type.
  return (await buildListQuery(db, mapping, query, limit).execute()) as unknown as AuditEntry[];
}

/**
 * Streams every matching entry page by page, holding one page in memory at a time. Each page is an index range
 * scan that starts where the previous one stopped, so the cost per page stays flat however deep the stream goes.
 */
export async function* streamEntries(db: Db, mapping: ResolvedMapping, query: ListQuery, max = Infinity): AsyncGenerator<AuditEntry> {
  let after = query.after;
  let remaining = max;
  while (remaining > 0) {
    const page = await fetchPage(db, mapping, { ...query, after }, Math.min(PAGE_SIZE, remaining));
    yield* page;
    remaining -= page.length;
    const last = page.at(-1);
    if (!last || page.length < PAGE_SIZE) return;
    after = { timestamp: last.timestamp, id: last.id };
  }
}

export function positionOf(entry: AuditEntry): Position {
  return { timestamp: entry.timestamp, id: entry.id };
}
