import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/connect.js';
import { columnRef, fieldExpression, entryTimestamp, entryTimestampOf, instantBoundCondition, instantOf, timeBoundCondition, timestampRef, timestamptzValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import type { CanonicalField, EntryFilters } from '../domain.js';
import { UsageError } from '../errors.js';
import { allOf, filterConditions, IP_TEXT } from './filters.js';
import { tableRef } from './table-ref.js';
import type { Dimension } from '../config/stats-dimensions.js';

export { DIMENSIONS, TIME_DIMENSIONS, type Dimension } from '../config/stats-dimensions.js';

/** One group of a view: its key per dimension (null when the column is null) and how many entries it holds. */
export interface StatsRow {
  keys: (string | number | null)[];
  count: number;
}

const COLUMN_OF: Partial<Record<Dimension, CanonicalField>> = {
  operator: 'operator', operation: 'operation', resource: 'resource_type', source: 'source', ip: 'source_ip', net: 'source_ip',
};

/**
 * The timestamp as a UTC `timestamp`, its era kept: epoch numbers and local time through their instant. They went
 * through the entry's to_char text, which prints 44 BC as 0044: weekdays and busy days were AD 44's.
 */
function utcTimestamp(mapping: ResolvedMapping): RawBuilder<unknown> {
  return plainUtcTimestamp(mapping) ?? sql`(${instantOf(mapping)} at time zone 'UTC')`;
}

/** The UTC `timestamp` of a plain timestamp column (not an expression, epoch or local time), else undefined. */
function plainUtcTimestamp(mapping: ResolvedMapping): RawBuilder<unknown> | undefined {
  const column = mapping.columns.timestamp;
  const plain = column && column.expression === undefined && column.epoch === undefined && column.timeZone === undefined;
  if (plain && column.type === 'timestamptz') return sql`(${timestampRef(mapping)} at time zone 'UTC')`;
  if (plain && column.type === 'timestamp') return timestampRef(mapping);
  return undefined;
}

function requireColumn(mapping: ResolvedMapping, dimension: Dimension): RawBuilder<unknown> {
  const field = COLUMN_OF[dimension] as CanonicalField;
  const ref = columnRef(mapping, field);
  if (!ref) throw new UsageError(`--by ${dimension} cannot be used: the table has no column mapped to ${field}`);
  return ref;
}

/**
 * A UTC day as entries print their dates (db/entry-columns.ts entryTimestampOf): `YYYY-MM-DD` in years 1-9999, else
 * ISO 8601's expanded year, BC counted astronomically (44 BC: `-000043-03-15`, 1 BC: `0000-...`, `+012026-...`).
 * to_char's `YYYY` printed 44 BC as 0044, the AD year. The entry's whole text only outside those years: for every
 * row it tripled the GROUP BY's time (300,000 bench rows: 117 -> 290 ms, medians of 9; 162 ms with the check).
 */
function dayText(mapping: ResolvedMapping): RawBuilder<string> {
  const whole = sql<string>`split_part(${entryTimestamp(mapping)}, 'T', 1)`;
  const utc = utcTimestamp(mapping);
  return sql<string>`case when ${utc} >= timestamp '0001-01-01' and ${utc} < timestamp '10000-01-01' then to_char(${utc}, 'YYYY-MM-DD') else ${whole} end`;
}

/** The SQL expression one dimension groups on. */
export function dimensionExpression(mapping: ResolvedMapping, dimension: Dimension): RawBuilder<unknown> {
  const utc = utcTimestamp(mapping);
  switch (dimension) {
    case 'day':
      return dayText(mapping);
    case 'hour':
      return sql`extract(hour from ${utc})::int`;
    case 'weekday':
      return sql`extract(isodow from ${utc})::int`;
    case 'operation':
      return sql`upper(${requireColumn(mapping, dimension)})`;
    case 'ip':
      return fieldExpression(mapping, 'source_ip');
    case 'net': {
      const ref = requireColumn(mapping, dimension);
      const type = mapping.columns.source_ip?.type;
      const ip = type === 'inet' || type === 'cidr' ? sql`${ref}::inet` : sql`(case when ${ref}::text ~* ${sql.raw(IP_TEXT)} then ${ref}::text::inet end)`;
      // A /24 for IPv4 and a /64 for IPv6: the block one site or one customer network usually holds. An IPv4-mapped
      // IPv6 address (::ffff:1.2.3.4, as a dual-stack listener reports IPv4 clients) is an IPv4 client: its /24 as
      // IPv4, not the one ::/64 that would hold every such client together with ::1.
      const v4 = sql`('0.0.0.0'::inet + (${ip} - '::ffff:0.0.0.0'::inet))`;
      return sql`(case when family(${ip}) = 6 and ${ip} << '::ffff:0.0.0.0/96'::inet then network(set_masklen(${v4}, 24))
        else network(set_masklen(${ip}, case when family(${ip}) = 4 then 24 else 64 end)) end)::text`;
    }
    default:
      return sql`${requireColumn(mapping, dimension)}::text`;
  }
}

/** One GROUP BY over the filtered entries, counted by PostgreSQL: one row per group, never the entries. */
export function buildStatsQuery(mapping: ResolvedMapping, filters: EntryFilters, by: readonly Dimension[]): RawBuilder<Record<string, unknown>> {
  const keys = by.map((dimension, index) => sql`${dimensionExpression(mapping, dimension)} as ${sql.ref(`k${index}`)}`);
  const positions = by.map((_, index) => sql.raw(String(index + 1)));
  return sql<Record<string, unknown>>`select ${sql.join(keys)}, count(*) as n from ${sql.table(tableRef(mapping))} where ${allOf(filterConditions(mapping, filters))} group by ${sql.join(positions)}`;
}

export async function countGroups(db: Db, mapping: ResolvedMapping, filters: EntryFilters, by: readonly Dimension[]): Promise<StatsRow[]> {
  const result = await buildStatsQuery(mapping, filters, by).execute(db);
  return result.rows.map((row) => ({ keys: by.map((_, index) => (row[`k${index}`] ?? null) as string | number | null), count: Number(row.n) }));
}

/** An operator whose first entry ever (in the whole table) is in the filtered window. */
export interface FirstChange {
  operator: string;
  first: string;
}

/** A day on which an operator changed more than `factor` times their median over active days. */
export interface BusyDay {
  operator: string;
  day: string;
  count: number;
  median: number;
}

/** An (operator, source IP) pair in the window with no earlier entry of that operator from that address. */
export interface NewAddress {
  operator: string;
  ip: string;
  first: string;
  count: number;
}

/** Columns of the same table under the alias `o`, for the correlated "anything earlier?" checks. */
function earlier(mapping: ResolvedMapping, field: 'operator' | 'source_ip' | 'timestamp'): RawBuilder<unknown> {
  const column = mapping.columns[field] as { name: string };
  return sql.ref(`o.${column.name}`);
}

/**
 * Needs columns, not expressions: the checks read the same table again under another alias. A timestamp kept as
 * epoch numbers or local time is compared in its own form and turned into UTC text only for the output.
 */
function plainColumns(mapping: ResolvedMapping, fields: readonly CanonicalField[]): boolean {
  return fields.every((field) => mapping.columns[field] !== undefined && mapping.columns[field].expression === undefined);
}

/**
 * Where "first ever" counts as new: at or after the window's start. Without one (no --since), the old reading: no
 * entry before the first in the filtered window.
 */
function isNewSince(mapping: ResolvedMapping, filters: EntryFilters, firstEver: RawBuilder<unknown>, firstInWindow: RawBuilder<unknown>): RawBuilder<boolean> {
  // By the instant, as --since reads entries (a local time in an hour repeated in autumn, a fractional epoch).
  return filters.since ? sql<boolean>`${instantOf(mapping, firstEver)} >= ${timestamptzValue(filters.since)}` : sql<boolean>`${firstEver} >= ${firstInWindow}`;
}

/**
 * Operators whose first change ever is inside the window: one GROUP BY, then one index probe per operator. The
 * filters choose the operators (those counted); their first entry is looked up in the whole table, whatever the
 * filters, so a new operator counted by `--operation DELETE` is marked even when their first entry was an UPDATE.
 */
export async function findFirstChanges(db: Db, mapping: ResolvedMapping, filters: EntryFilters): Promise<FirstChange[] | null> {
  const query = buildFirstChangesQuery(mapping, filters);
  return query ? (await query.execute(db)).rows : null;
}

export function buildFirstChangesQuery(mapping: ResolvedMapping, filters: EntryFilters): RawBuilder<FirstChange> | undefined {
  if (!plainColumns(mapping, ['operator', 'timestamp'])) return undefined;
  const operator = sql.ref((mapping.columns.operator as { name: string }).name);
  const ts = timestampRef(mapping);
  return sql<FirstChange>`
    select g.k::text as operator, ${entryTimestampOf(mapping, sql`f.first_ever`)} as first from (
      select ${operator} as k, min(${ts}) as first_in
      from ${sql.table(tableRef(mapping))} where ${allOf([...filterConditions(mapping, filters), sql<boolean>`${operator} is not null`])}
      group by 1
    ) g
    cross join lateral (
      select ${earlier(mapping, 'timestamp')} as first_ever from ${sql.table(tableRef(mapping))} as o
      where ${earlier(mapping, 'operator')} = g.k order by ${earlier(mapping, 'timestamp')} limit 1
    ) f
    where ${isNewSince(mapping, filters, sql`f.first_ever`, sql`g.first_in`)}
    order by f.first_ever, g.k`;
}

/** Days before the window that set each operator's normal rate, besides the window's own. */
export const BASELINE_DAYS = 28;
/** An operator needs this many active days in the baseline before a day of theirs can be unusual. */
export const MIN_ACTIVE_DAYS = 3;

/**
 * Days in the window on which an operator made more than `factor` times their median daily count, the median taken
 * over their active days in the window and the {@link BASELINE_DAYS} before it. One statement: a GROUP BY per
 * operator and day, the median per operator, and the comparison, all in PostgreSQL.
 */
export async function findBusyDays(db: Db, mapping: ResolvedMapping, filters: EntryFilters, factor: number): Promise<BusyDay[]> {
  const result = await buildBusyDaysQuery(mapping, filters, factor).execute(db);
  return result.rows.map((row) => ({ operator: row.operator, day: row.day, count: Number(row.n), median: Number(row.median) }));
}

export function buildBusyDaysQuery(mapping: ResolvedMapping, filters: EntryFilters, factor: number) {
  const operator = requireColumn(mapping, 'operator');
  const day = dimensionExpression(mapping, 'day');
  // Days compared and ordered as dates: their text does not sort by time across expanded years.
  const date = sql`(${utcTimestamp(mapping)})::date`;
  const baseline = { ...filters, since: undefined };
  const conditions = [...filterConditions(mapping, baseline), sql<boolean>`${operator} is not null`];
  let inWindowDays: RawBuilder<unknown> = sql`true`;
  // A day's count in the window: the day the window starts in holds entries before it too, which count for the
  // median but are not the window's (`--since 12:00` marked "11 on that day" for 10 changes at 02:00 and 1 after).
  let inWindow: RawBuilder<unknown> = sql`count(*)`;
  if (filters.since) {
    const since = timestamptzValue(filters.since);
    inWindow = sql`count(*) filter (where ${instantBoundCondition(mapping, '>=', since)})`;
    // The baseline starts at a UTC midnight, as days are counted: a first day cut at the window's hour would count low.
    const baselineStart = sql`(date_trunc('day', (${since} - make_interval(days => ${BASELINE_DAYS})) at time zone 'UTC') at time zone 'UTC')`;
    conditions.push(instantBoundCondition(mapping, '>=', baselineStart));
    // Arithmetic and days on the timestamptz: an epoch column's bound is a number, which has neither.
    inWindowDays = sql`daily.dd >= (${since} at time zone 'UTC')::date`;
  }
  return sql<{ operator: string; day: string; n: string; median: number }>`
    with daily as (
      select ${operator}::text as k, ${day} as d, ${date} as dd, count(*) as n, ${inWindow} as nw
      from ${sql.table(tableRef(mapping))} where ${allOf(conditions)} group by 1, 2, 3
    ), norm as (
      select k, percentile_cont(0.5) within group (order by n) as median, count(*) as days from daily group by k
    )
    select daily.k as operator, daily.d as day, daily.nw as n, norm.median from daily join norm using (k)
    where norm.days >= ${MIN_ACTIVE_DAYS} and daily.nw > ${factor} * norm.median and ${inWindowDays}
    order by daily.nw desc, daily.k, daily.dd`;
}

/**
 * (operator, source IP) pairs in the window that the operator never used before. As for first changes, the filters
 * choose the pairs and their first use is looked up in the whole table: `first` is that first use. One GROUP BY over
 * every entry from the window's start gives each pair's filtered count and first entry, and its first use unfiltered
 * (its first ever when nothing came before the window); then one probe a pair for an entry before the window
 * (a LATERAL ... LIMIT 1: PostgreSQL planned a NOT EXISTS as a sort of the whole table for 40 pairs).
 * The probe goes through an index on the address when the table has one (the --ip GiST index): the operator is then
 * compared by IS NOT DISTINCT FROM (the same, for the non-null operators here) so that PostgreSQL cannot AND it with
 * the operator index, which read every entry of the operator for each pair: 67 s for 20,000 pairs on 2M rows, 4-6 s
 * now (decisions/010-stats-new-source-ip.md). Without one, through the operator index, as before.
 * Without --since: the first use in the whole table at or after the pair's first in the filtered window.
 */
export async function findNewAddresses(db: Db, mapping: ResolvedMapping, filters: EntryFilters): Promise<NewAddress[] | null> {
  const column = mapping.columns.source_ip;
  if (!column || column.expression !== undefined) return null;
  const indexed = await sql<{ indexed: boolean }>`
    select exists (
      select from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
      where i.indrelid = to_regclass(format('%I.%I', ${mapping.table.schema}::text, ${mapping.table.name}::text)) and a.attname = ${column.name}
    ) as indexed`.execute(db);
  const query = buildNewAddressesQuery(mapping, filters, indexed.rows[0]?.indexed ? 'address' : 'operator');
  if (!query) return null;
  const result = await query.execute(db);
  return result.rows.map((row) => ({ operator: row.operator, ip: row.ip, first: row.first, count: Number(row.n) }));
}

/** `probe`: which index finds an older entry of a pair: one on the address (see above), or the operator's. */
export function buildNewAddressesQuery(mapping: ResolvedMapping, filters: EntryFilters, probe: 'address' | 'operator' = 'address') {
  if (!plainColumns(mapping, ['operator', 'timestamp', 'source_ip'])) return undefined;
  const operator = sql.ref((mapping.columns.operator as { name: string }).name);
  const ip = sql.ref((mapping.columns.source_ip as { name: string }).name);
  const ts = timestampRef(mapping);
  const table = sql.table(tableRef(mapping));
  const chosen = allOf(filterConditions(mapping, filters));
  const scanned = [sql<boolean>`${operator} is not null`, sql<boolean>`${ip} is not null`];
  const sameOperator = probe === 'address' ? sql`is not distinct from` : sql`=`;
  // The time column unqualified in the probe is its own table's (o), as filterConditions writes it.
  const older = filters.since
    ? sql`left join lateral (
        select 1 as hit from ${table} as o
        where ${earlier(mapping, 'source_ip')} = g.source_ip_value and ${earlier(mapping, 'operator')} ${sameOperator} g.k
          and ${timeBoundCondition(mapping, '<', filters.since)}
        limit 1
      ) b on true`
    : sql``;
  if (filters.since) scanned.unshift(timeBoundCondition(mapping, '>=', filters.since));
  return sql<{ operator: string; ip: string; first: string; n: string }>`
    with g as (
      select ${operator} as k, ${ip} as source_ip_value, ${fieldExpression(mapping, 'source_ip')} as ip_text,
        min(${ts}) filter (where ${chosen}) as first_in, count(*) filter (where ${chosen}) as n, min(${ts}) as first_ever
      from ${table} where ${allOf(scanned)} group by 1, 2
      having count(*) filter (where ${chosen}) > 0
    )
    select g.k::text as operator, g.ip_text as ip, ${entryTimestampOf(mapping, sql`g.first_ever`)} as first, g.n
    from g ${older}
    where ${filters.since ? sql`b.hit is null` : sql`g.first_ever >= g.first_in`}
    order by g.first_ever, g.k, g.ip_text`;
}

/** Every statement `stats` runs for these views (one GROUP BY each) and, when asked, the unusual-activity checks: the bench runs the same through psql. */
export function statsStatements(mapping: ResolvedMapping, filters: EntryFilters, views: readonly (readonly Dimension[])[], unusualFactor?: number): RawBuilder<unknown>[] {
  const statements: RawBuilder<unknown>[] = views.map((by) => buildStatsQuery(mapping, filters, by));
  if (unusualFactor !== undefined) {
    for (const query of [buildFirstChangesQuery(mapping, filters), buildBusyDaysQuery(mapping, filters, unusualFactor), buildNewAddressesQuery(mapping, filters)]) {
      if (query) statements.push(query);
    }
  }
  return statements;
}
