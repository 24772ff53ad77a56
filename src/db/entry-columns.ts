import { sql, type AliasedRawBuilder, type RawBuilder } from 'kysely';
import { CANONICAL_FIELDS, type CanonicalField, type Position } from '../entry.js';
import type { TimeBound } from '../config/time-bound.js';
import type { ResolvedMapping } from './mapping.js';

export type { Position };

// Microsecond ISO text, so a position read back compares exactly equal to the stored value.
const ISO_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const ID_CASTS: Record<string, string> = {
  int8: 'bigint', int4: 'integer', int2: 'smallint', numeric: 'numeric', text: 'text', varchar: 'varchar', uuid: 'uuid',
};

export function columnRef(mapping: ResolvedMapping, field: CanonicalField): RawBuilder<unknown> | undefined {
  const column = mapping.columns[field];
  return column ? sql.ref(column.name) : undefined;
}

function requiredRef(mapping: ResolvedMapping, field: 'id' | 'timestamp'): RawBuilder<unknown> {
  return sql.ref((mapping.columns[field] as { name: string }).name);
}

export const timestampRef = (mapping: ResolvedMapping) => requiredRef(mapping, 'timestamp');
export const idRef = (mapping: ResolvedMapping) => requiredRef(mapping, 'id');

/**
 * `"schema"."table"."column"`, for ORDER BY. There a bare name means an output column of that name first, and the
 * entry selections alias `id::text` as "id": `order by "id"` sorted ties on the timestamp as text ("10" before
 * "9"), unlike the keyset comparison, and put a sort on top of the (timestamp, id) index scan.
 */
export function qualifiedRef(mapping: ResolvedMapping, field: 'id' | 'timestamp'): RawBuilder<unknown> {
  const { schema, name } = mapping.table;
  return sql.ref(`${schema}.${name}.${(mapping.columns[field] as { name: string }).name}`);
}

/** The SQL expression that reads one canonical field in its canonical representation. */
export function fieldExpression(mapping: ResolvedMapping, field: CanonicalField): RawBuilder<unknown> {
  const column = mapping.columns[field];
  if (!column) return sql`null`;
  const ref = sql.ref(column.name);
  switch (field) {
    case 'id':
      return sql`${ref}::text`;
    case 'timestamp':
      return column.type === 'timestamptz'
        ? sql`to_char(${ref} at time zone 'UTC', ${sql.raw(ISO_FORMAT)})`
        : sql`to_char(${ref}, ${sql.raw(ISO_FORMAT)})`;
    case 'source_ip':
      // host() drops the /32 or /128 that inet's text cast would add.
      return column.type === 'inet' || column.type === 'cidr' ? sql`host(${ref})` : sql`${ref}::text`;
    case 'before':
    case 'after':
      return column.type === 'text' ? sql`${ref}::jsonb` : ref;
    default:
      return sql`${ref}::text`;
  }
}

/**
 * Select list producing rows shaped exactly like `AuditEntry`. With `states: false`, `before` and `after` are read
 * as null: a listing that never prints them (the table) skips reading, parsing and masking kilobytes per row.
 */
export function entrySelection(mapping: ResolvedMapping, { states = true } = {}): AliasedRawBuilder<unknown, string>[] {
  return CANONICAL_FIELDS.map((field) =>
    (states || (field !== 'before' && field !== 'after') ? fieldExpression(mapping, field) : sql`null`).as(field),
  );
}

/** One text column holding the canonical entry as JSON, built by the server (faster than building it in Node). */
export function entryJsonExpression(mapping: ResolvedMapping): RawBuilder<string> {
  const pairs = CANONICAL_FIELDS.map((field) => sql`${sql.lit(field)}, ${fieldExpression(mapping, field)}`);
  return sql<string>`json_build_object(${sql.join(pairs)})::text`;
}

/** A bound timestamp in the column's own type, so the timestamp index stays usable. */
export function timestampValue(mapping: ResolvedMapping, value: TimeBound | Position): RawBuilder<unknown> {
  const asTimestamptz = 'kind' in value && value.kind === 'relative'
    ? sql`(now() - cast(${value.interval} as interval))`
    : sql`cast(${'kind' in value ? value.iso : value.timestamp} as timestamptz)`;
  return mapping.columns.timestamp?.type === 'timestamp' ? sql`(${asTimestamptz} at time zone 'UTC')` : asTimestamptz;
}

/** A bound id in the id column's type, so (timestamp, id) row comparisons order ids numerically when they are numbers. */
export function idValue(mapping: ResolvedMapping, id: string): RawBuilder<unknown> {
  const cast = ID_CASTS[mapping.columns.id?.type ?? 'text'] ?? 'text';
  return sql`cast(${id} as ${sql.raw(cast)})`;
}
