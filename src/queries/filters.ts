import { isIPv4 } from 'node:net';
import { sql, type RawBuilder } from 'kysely';
import type { CanonicalField, EntryFilters, ResourceFilter } from '../domain.js';
import { isKnown, KNOWN_RESOURCE_TYPES, KNOWN_SOURCES } from '../config/known-values.js';
import { UsageError } from '../errors.js';
import { columnRef, timeBoundCondition } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import type { Db } from '../db/connect.js';
import { tableRef } from './table-ref.js';


export const NO_FILTERS: EntryFilters = { operators: [], operations: [], resources: [], ips: [], sources: [] };

// Only textual IP values are cast to inet, so a malformed value in a text column reads as "no match" (for stats
// --by net, no address), not an error. The text addresses inet surely reads: IPv4 dotted quads and the usual IPv6
// forms, each with an optional prefix length in range. `^[0-9A-Fa-f:.]+$` let 'cafe', '1.2.3.4/33' or ':::' through,
// and one such row failed the whole statement (invalid input syntax for type inet). Checked against inet's own parser
// on 33,000 generated strings: none it matches fails; rare abbreviations inet also reads ('1.2.3/24', '01.2.3.4') do
// not match.
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const V4 = `${OCTET}(\\.${OCTET}){3}`;
const HEX = '[0-9a-f]{1,4}';
const V6 = [
  `(${HEX}:){7}${HEX}`, `(${HEX}:){1,7}:`, `(${HEX}:){1,6}:${HEX}`, `(${HEX}:){1,5}(:${HEX}){1,2}`, `(${HEX}:){1,4}(:${HEX}){1,3}`,
  `(${HEX}:){1,3}(:${HEX}){1,4}`, `(${HEX}:){1,2}(:${HEX}){1,5}`, `${HEX}:(:${HEX}){1,6}`, `:((:${HEX}){1,7}|:)`,
  `(${HEX}:){6}${V4}`, `(${HEX}:){1,5}:${V4}`, `::(${HEX}:){0,5}${V4}`,
].join('|');
/** Match with `~*` (hex digits in either case). */
export const IP_TEXT = `'^(${V4}(/(3[0-2]|[12]?[0-9]))?|(${V6})(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$'`;

/** Builds one SQL condition per filter; every value is a bound parameter. */
export function filterConditions(mapping: ResolvedMapping, filters: EntryFilters): RawBuilder<boolean>[] {
  const conditions: RawBuilder<boolean>[] = [];
  if (filters.since) conditions.push(timeBoundCondition(mapping, '>=', filters.since));
  if (filters.until) conditions.push(timeBoundCondition(mapping, '<', filters.until));
  if (filters.operators.length) conditions.push(inList(requireColumn(mapping, 'operator', '--operator'), filters.operators));
  if (filters.operations.length) {
    const operation = requireColumn(mapping, 'operation', '--operation');
    conditions.push(inList(sql`lower(${operation})`, filters.operations.map((op) => op.toLowerCase())));
  }
  if (filters.resources.length) conditions.push(resourceCondition(mapping, filters.resources));
  if (filters.ips.length) conditions.push(ipCondition(mapping, filters.ips));
  if (filters.sources.length) conditions.push(caseInsensitive(requireColumn(mapping, 'source', '--source'), filters.sources, KNOWN_SOURCES));
  return conditions;
}

/** Joins conditions with AND; `true` when there are none. */
export function allOf(conditions: RawBuilder<boolean>[]): RawBuilder<boolean> {
  return conditions.length ? sql<boolean>`(${sql.join(conditions, sql` and `)})` : sql<boolean>`true`;
}

function inList(ref: RawBuilder<unknown>, values: string[]): RawBuilder<boolean> {
  return values.length === 1 ? sql<boolean>`${ref} = ${values[0]}` : sql<boolean>`${ref} in (${sql.join(values)})`;
}

/**
 * Known values match as API7 stores them (lowercase), which keeps the (source, ...) and (resource_type, ...) indexes
 * usable; any other value is compared case-insensitively, so `--source API` and an unknown `--source Foo` both match.
 */
function caseInsensitive(ref: RawBuilder<unknown>, values: string[], known: readonly string[]): RawBuilder<boolean> {
  const canonical = values.filter((value) => isKnown(known, value)).map((value) => value.toLowerCase());
  const other = values.filter((value) => !isKnown(known, value)).map((value) => value.toLowerCase());
  const parts = [
    ...(canonical.length ? [inList(ref, [...new Set(canonical)])] : []),
    ...(other.length ? [inList(sql`lower(${ref})`, [...new Set(other)])] : []),
  ];
  return parts.length === 1 ? (parts[0] as RawBuilder<boolean>) : sql<boolean>`(${sql.join(parts, sql` or `)})`;
}

/** `TYPE` matches the type; `TYPE:X` the resource with id X, or the ids resolveResourceNames found for the name X. */
function resourceCondition(mapping: ResolvedMapping, resources: ResourceFilter[]): RawBuilder<boolean> {
  const type = requireColumn(mapping, 'resource_type', '--resource');
  const alternatives = resources.map(({ type: value, id, ids }) => {
    const typeMatches = caseInsensitive(type, [value], KNOWN_RESOURCE_TYPES);
    if (id === undefined) return typeMatches;
    const idRef = requireColumn(mapping, 'resource_id', '--resource');
    if (ids === undefined) return sql<boolean>`(${typeMatches} and ${idRef} = ${id})`;
    return ids.length ? sql<boolean>`(${typeMatches} and ${inList(idRef, ids)})` : sql<boolean>`false`;
  });
  return sql<boolean>`(${sql.join(alternatives, sql` or `)})`;
}

/**
 * `--resource TYPE:X` is an id; when no entry has that id, X is read as the name the table shows and turned into the
 * ids it stands for here, so the filter stays `resource_id = ...` and the (type, id, time) index serves it. A match
 * on "id or name" in one condition cannot use that index and scanned the whole table.
 */
export async function resolveResourceNames(db: Db, mapping: ResolvedMapping, filters: EntryFilters, note: (line: string) => void): Promise<EntryFilters> {
  const nameRef = columnRef(mapping, 'resource_name');
  if (!nameRef || !filters.resources.some((resource) => resource.id !== undefined && resource.ids === undefined)) return filters;
  const table = sql.table(tableRef(mapping));
  const resources: ResourceFilter[] = [];
  for (const resource of filters.resources) {
    if (resource.id === undefined || resource.ids !== undefined) {
      resources.push(resource);
      continue;
    }
    const typeMatches = caseInsensitive(requireColumn(mapping, 'resource_type', '--resource'), [resource.type], KNOWN_RESOURCE_TYPES);
    const idRef = requireColumn(mapping, 'resource_id', '--resource');
    const byId = await sql<{ one: number }>`select 1 as one from ${table} where ${typeMatches} and ${idRef} = ${resource.id} limit 1`.execute(db);
    if (byId.rows.length > 0) {
      resources.push(resource);
      continue;
    }
    const byName = await sql<{ id: string }>`select distinct ${idRef}::text as id from ${table} where ${typeMatches} and ${nameRef} = ${resource.id} limit 100`.execute(db);
    const ids = byName.rows.map((row) => row.id);
    if (ids.length > 0) note(`${resource.type}:${resource.id} is the name of ${ids.map((id) => `${resource.type}:${id}`).join(', ')}`);
    resources.push({ ...resource, ids });
  }
  return { ...filters, resources };
}

function ipCondition(mapping: ResolvedMapping, ips: string[]): RawBuilder<boolean> {
  const ref = requireColumn(mapping, 'source_ip', '--ip');
  const isInet = mapping.columns.source_ip?.type === 'inet' || mapping.columns.source_ip?.type === 'cidr';
  const address = isInet ? ref : sql`${ref}::inet`;
  const within = (ip: string) => {
    const twin = mappedTwin(ip);
    const inBlock = sql<boolean>`${address} <<= cast(${ip} as inet)`;
    return twin === undefined ? inBlock : sql<boolean>`(${inBlock} or ${address} <<= cast(${twin} as inet))`;
  };
  const alternatives = ips.map((ip) => (isInet ? within(ip) : sql<boolean>`(case when ${ref} ~* ${sql.raw(IP_TEXT)} then ${within(ip)} else false end)`));
  return sql<boolean>`(${sql.join(alternatives, sql` or `)})`;
}

/**
 * The same addresses in the other family: a dual-stack server logs an IPv4 client as `::ffff:10.0.0.1`, so
 * `--ip 10.0.0.0/8` also means `::ffff:10.0.0.0/104`, and `--ip ::ffff:10.0.0.1` also `10.0.0.1`. Undefined for
 * an IPv6 block not inside `::ffff:0:0/96`. `ip` is valid (parseIpFilter).
 */
export function mappedTwin(ip: string): string | undefined {
  const [address = '', prefix] = ip.split('/');
  if (isIPv4(address)) return `::ffff:${address}/${96 + Number(prefix ?? 32)}`;
  const bits = Number(prefix ?? 128);
  const words = ipv6Words(address);
  if (!words || bits < 96 || words.slice(0, 5).some((word) => word !== 0) || words[5] !== 0xffff) return undefined;
  const [high = 0, low = 0] = words.slice(6);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}/${bits - 96}`;
}

/** The eight 16-bit words of an IPv6 address in any spelling (`::`, a dotted IPv4 tail). */
function ipv6Words(address: string): number[] | undefined {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  const [a, b, c, d] = (dotted?.slice(1) ?? []).map(Number) as [number, number, number, number];
  const text = dotted ? `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}` : address;
  const [head = '', tail] = text.split('::');
  const words = (part: string) => (part === '' ? [] : part.split(':').map((word) => parseInt(word, 16)));
  const all = tail === undefined ? words(head) : [...words(head), ...new Array<number>(8 - words(head).length - words(tail).length).fill(0), ...words(tail)];
  return all.length === 8 ? all : undefined;
}

function requireColumn(mapping: ResolvedMapping, field: CanonicalField, flag: string): RawBuilder<unknown> {
  const ref = columnRef(mapping, field);
  if (!ref) throw new UsageError(`${flag} cannot be used: the table has no column mapped to ${field}`);
  return ref;
}
