import { sql, type RawBuilder } from 'kysely';
import type { AuditEntry, EntryFilters, Position, TimeBound } from '../domain.js';
import type { Db } from '../db/connect.js';
import { afterPosition, columnRef, entrySelection, keysetTimestamp, keysetValue, qualifiedRef } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { UsageError } from '../errors.js';
import { normalizeInstant } from '../config/instant.js';
import type { ResourceKey } from './history-precompiled.js';
import { allOf, filterConditions, NO_FILTERS } from './filters.js';
import { PAGE_SIZE, type SortOrder } from './list.js';
import { tableRef } from './table-ref.js';

// Kysely-free, for history's precompiled statements (history-precompiled.ts); still exported from here.
export { DELETE_OPERATION, entryTellsState, type ResourceKey } from './history-precompiled.js';

/**
 * Exactly this type and id, as stored: the `(resource_type, resource_id, created_at)` index serves every query here
 * (`--resource`'s filter also matches names, which no index of that shape can serve).
 */
function resourceConditions(mapping: ResolvedMapping, resource: ResourceKey, filters: EntryFilters = NO_FILTERS) {
  const conditions = filterConditions(mapping, filters);
  conditions.push(sql<boolean>`${requiredColumn(mapping, 'resource_type')} = ${resource.type}`, sql<boolean>`${requiredColumn(mapping, 'resource_id')} = ${resource.id}`);
  return conditions;
}

function requiredColumn(mapping: ResolvedMapping, field: 'resource_type' | 'resource_id' | 'resource_name'): RawBuilder<unknown> {
  const ref = columnRef(mapping, field);
  if (!ref) throw new UsageError(`history cannot be used: the table has no column mapped to ${field}`);
  return ref;
}

/** The resource's entries in time order (ties by id), streamed page by page. */
export async function* streamHistory(db: Db, mapping: ResolvedMapping, resource: ResourceKey, filters: EntryFilters, order: SortOrder): AsyncGenerator<AuditEntry> {
  let after: Position | undefined;
  for (;;) {
    const page = (await buildHistoryPage(db, mapping, resource, filters, order, after).execute()) as unknown as AuditEntry[];
    yield* page;
    const last = page.at(-1);
    if (!last || page.length < PAGE_SIZE) return;
    after = { timestamp: last.timestamp, id: last.id };
  }
}

/** One page of the timeline, after a (timestamp, id) position in the chosen order. */
export function buildHistoryPage(db: Db, mapping: ResolvedMapping, resource: ResourceKey, filters: EntryFilters, order: SortOrder, after?: Position) {
  const conditions = resourceConditions(mapping, resource, filters);
  if (after) conditions.push(afterPosition(mapping, after, order));
  return edgeQuery(db, mapping, allOf(conditions), order, PAGE_SIZE);
}

/** The resource's oldest entry whatever the filters: whether its history starts with a CREATE or was pruned before. */
export async function firstEntry(db: Db, mapping: ResolvedMapping, resource: ResourceKey): Promise<AuditEntry | undefined> {
  return (await buildFirstEntry(db, mapping, resource).executeTakeFirst()) as AuditEntry | undefined;
}

export function buildFirstEntry(db: Db, mapping: ResolvedMapping, resource: ResourceKey) {
  return edgeQuery(db, mapping, allOf(resourceConditions(mapping, resource)), 'asc');
}

/** The id of the resource of this type most recently named `name`, for `history route:billing-webhook`. */
export async function idForName(db: Db, mapping: ResolvedMapping, type: string, name: string): Promise<string | undefined> {
  const entry = (await buildIdForName(db, mapping, type, name)?.executeTakeFirst()) as AuditEntry | undefined;
  return entry?.resource_id ?? undefined;
}

/** The newest entry of this type named `name`; undefined when the table maps no resource_name. */
export function buildIdForName(db: Db, mapping: ResolvedMapping, type: string, name: string) {
  if (!columnRef(mapping, 'resource_name')) return undefined;
  const where = allOf([sql<boolean>`${requiredColumn(mapping, 'resource_type')} = ${type}`, sql<boolean>`${requiredColumn(mapping, 'resource_name')} = ${name}`]);
  return edgeQuery(db, mapping, where, 'desc');
}

/**
 * An entry that tells what the resource became: it holds a state (`before` or `after`), or it deleted the resource.
 * A LOGIN or LOGOUT of a user (neither state) says nothing of it: the state after one is the state before it.
 * Undefined when the table maps no state column (then no entry can tell).
 */
function tellsState(mapping: ResolvedMapping): RawBuilder<boolean> | undefined {
  const [before, after, operation] = [columnRef(mapping, 'before'), columnRef(mapping, 'after'), columnRef(mapping, 'operation')];
  if (!before && !after) return undefined;
  // A JSON null (`'null'::jsonb`, as some writers store "no state") reads as null too, as it does once parsed.
  const holds = (ref: RawBuilder<unknown>) => sql`nullif(btrim(${ref}::text), 'null') is not null`;
  const parts = [before && holds(before), after && holds(after), operation && sql`lower(${operation}) in ('delete', 'remove')`];
  return sql<boolean>`(${sql.join(parts.filter((part) => part !== undefined), sql` or `)})`;
}

/** The resource's oldest entry that holds a state or deleted it: where its known history starts. */
export async function firstStateEntry(db: Db, mapping: ResolvedMapping, resource: ResourceKey): Promise<AuditEntry | undefined> {
  return (await buildFirstStateEntry(db, mapping, resource).executeTakeFirst()) as AuditEntry | undefined;
}

export function buildFirstStateEntry(db: Db, mapping: ResolvedMapping, resource: ResourceKey) {
  const conditions = resourceConditions(mapping, resource);
  const tells = tellsState(mapping);
  if (tells) conditions.push(tells);
  return edgeQuery(db, mapping, allOf(conditions), 'asc');
}

/** The last entry at or before `at` that tells the state (see {@link tellsState}): its `after` is the resource's state then. */
export async function entryAt(db: Db, mapping: ResolvedMapping, resource: ResourceKey, at: TimeBound): Promise<AuditEntry | undefined> {
  const conditions = resourceConditions(mapping, resource);
  conditions.push(sql<boolean>`${keysetTimestamp(mapping)} <= ${keysetValue(mapping, at)}`);
  const tells = tellsState(mapping);
  if (tells) conditions.push(tells);
  return (await edgeQuery(db, mapping, allOf(conditions), 'desc').executeTakeFirst()) as AuditEntry | undefined;
}

/**
 * A time bound as the entries' ISO text: `7d` is `now() - 7 days` by the database's clock; an ISO time is read as
 * cursors are (its expanded year kept: to_char printed 44 BC as 0044, and PostgreSQL refused `-000043-...`).
 */
export async function resolveInstant(db: Db, bound: TimeBound): Promise<string> {
  const given = bound.kind === 'absolute' ? normalizeInstant(bound.iso) : undefined;
  if (given !== undefined) return given;
  const value = bound.kind === 'relative' ? sql`(now() - cast(${bound.interval} as interval))` : sql`cast(${bound.iso} as timestamptz)`;
  const result = await sql<{ at: string }>`select to_char(${value} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at`.execute(db);
  return (result.rows[0] as { at: string }).at;
}

/** The entries matching `where` in (timestamp, id) order, the first `limit` of them. */
function edgeQuery(db: Db, mapping: ResolvedMapping, where: ReturnType<typeof allOf>, order: SortOrder, limit = 1) {
  const direction = sql.raw(order);
  return db
    .selectFrom(tableRef(mapping))
    .select(entrySelection(mapping))
    .where(where)
    .orderBy(sql`${keysetTimestamp(mapping, qualifiedRef(mapping, 'timestamp'))} ${direction}`)
    .orderBy(sql`${qualifiedRef(mapping, 'id')} ${direction}`)
    .limit(limit);
}
