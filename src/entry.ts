/**
 * The canonical audit entry: every table layout is mapped onto this shape, and JSON output uses exactly these
 * names. `id` is a string so that bigint ids survive JSON; `timestamp` is ISO 8601 in UTC with microseconds, so a
 * value printed by one command can be fed back (as a cursor or filter) without losing precision.
 */
export interface AuditEntry {
  id: string;
  timestamp: string;
  operator: string | null;
  operation: string | null;
  resource_type: string | null;
  resource_id: string | null;
  resource_name: string | null;
  source_ip: string | null;
  source: string | null;
  before: unknown;
  after: unknown;
}

export type CanonicalField = keyof AuditEntry;

/** Canonical field names in output order (JSON keys, CSV header). */
export const CANONICAL_FIELDS: readonly CanonicalField[] = [
  'id',
  'timestamp',
  'operator',
  'operation',
  'resource_type',
  'resource_id',
  'resource_name',
  'source_ip',
  'source',
  'before',
  'after',
];

/** Fields a custom mapping may leave out; the others must name a column. */
export const OPTIONAL_FIELDS: ReadonlySet<CanonicalField> = new Set<CanonicalField>([
  'resource_name',
  'source_ip',
  'source',
  'before',
  'after',
]);

/** A place in (timestamp, id) order: the keyset for pagination, export checkpoints and prune bounds. */
export interface Position {
  /** ISO 8601 UTC with microseconds, exactly as the entry's `timestamp`. */
  timestamp: string;
  id: string;
}
