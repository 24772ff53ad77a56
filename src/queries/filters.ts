import { sql, type RawBuilder } from 'kysely';
import type { TimeBound } from '../config/time-bound.js';
import type { ResourceFilter } from '../config/parse-flags.js';
import type { CanonicalField } from '../entry.js';
import { UsageError } from '../errors.js';
import { columnRef, timestampRef, timestampValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';

/** The filters shared by list and export. Values given twice are alternatives; different filters must all hold. */
export interface EntryFilters {
  since?: TimeBound;
  until?: TimeBound;
  operators: string[];
  operations: string[];
  resources: ResourceFilter[];
  ips: string[];
  sources: string[];
}

export const NO_FILTERS: EntryFilters = { operators: [], operations: [], resources: [], ips: [], sources: [] };

// Only textual IP values are cast to inet, so a malformed value in a text column reads as "no match", not an error.
const IP_TEXT = `'^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$'`;

/** Builds one SQL condition per filter; every value is a bound parameter. */
export function filterConditions(mapping: ResolvedMapping, filters: EntryFilters): RawBuilder<boolean>[] {
  const conditions: RawBuilder<boolean>[] = [];
  const ts = timestampRef(mapping);
  if (filters.since) conditions.push(sql<boolean>`${ts} >= ${timestampValue(mapping, filters.since)}`);
  if (filters.until) conditions.push(sql<boolean>`${ts} < ${timestampValue(mapping, filters.until)}`);
  if (filters.operators.length) conditions.push(inList(requireColumn(mapping, 'operator', '--operator'), filters.operators));
  if (filters.operations.length) {
    const operation = requireColumn(mapping, 'operation', '--operation');
    conditions.push(inList(sql`lower(${operation})`, filters.operations.map((op) => op.toLowerCase())));
  }
  if (filters.resources.length) conditions.push(resourceCondition(mapping, filters.resources));
  if (filters.ips.length) conditions.push(ipCondition(mapping, filters.ips));
  if (filters.sources.length) conditions.push(inList(requireColumn(mapping, 'source', '--source'), filters.sources));
  return conditions;
}

/** Joins conditions with AND; `true` when there are none. */
export function allOf(conditions: RawBuilder<boolean>[]): RawBuilder<boolean> {
  return conditions.length ? sql<boolean>`(${sql.join(conditions, sql` and `)})` : sql<boolean>`true`;
}

function inList(ref: RawBuilder<unknown>, values: string[]): RawBuilder<boolean> {
  return values.length === 1 ? sql<boolean>`${ref} = ${values[0]}` : sql<boolean>`${ref} in (${sql.join(values)})`;
}

function resourceCondition(mapping: ResolvedMapping, resources: ResourceFilter[]): RawBuilder<boolean> {
  const type = requireColumn(mapping, 'resource_type', '--resource');
  const alternatives = resources.map(({ type: value, id }) =>
    id === undefined
      ? sql<boolean>`${type} = ${value}`
      : sql<boolean>`(${type} = ${value} and ${requireColumn(mapping, 'resource_id', '--resource')} = ${id})`,
  );
  return sql<boolean>`(${sql.join(alternatives, sql` or `)})`;
}

function ipCondition(mapping: ResolvedMapping, ips: string[]): RawBuilder<boolean> {
  const ref = requireColumn(mapping, 'source_ip', '--ip');
  const isInet = mapping.columns.source_ip?.type === 'inet' || mapping.columns.source_ip?.type === 'cidr';
  const alternatives = ips.map((ip) =>
    isInet
      ? sql<boolean>`${ref} <<= cast(${ip} as inet)`
      : sql<boolean>`(case when ${ref} ~ ${sql.raw(IP_TEXT)} then ${ref}::inet <<= cast(${ip} as inet) else false end)`,
  );
  return sql<boolean>`(${sql.join(alternatives, sql` or `)})`;
}

function requireColumn(mapping: ResolvedMapping, field: CanonicalField, flag: string): RawBuilder<unknown> {
  const ref = columnRef(mapping, field);
  if (!ref) throw new UsageError(`${flag} cannot be used: the table has no column mapped to ${field}`);
  return ref;
}
