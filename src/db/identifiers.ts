import { UsageError } from '../errors.js';

// Plain or unicode identifiers, as PostgreSQL stores them (63 bytes at most). Anything else from a config file is
// rejected before it reaches SQL; what passes is still quoted by Kysely, never spliced into a string.
const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_$]*$/u;
const MAX_IDENTIFIER_BYTES = 63;

/** A table reference split into its parts; `schema` is undefined for an unqualified name. */
export interface TableName {
  schema?: string;
  name: string;
}

export function validateIdentifier(what: string, value: string): string {
  if (!IDENTIFIER.test(value) || Buffer.byteLength(value) > MAX_IDENTIFIER_BYTES) {
    const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
    throw new UsageError(`invalid ${what} '${shown}': expected a PostgreSQL identifier (letters, digits, _ and $, at most 63 bytes)`);
  }
  return value;
}

/** Parses `audit_logs` or `cp.audit_events`. */
export function parseTableName(value: string): TableName {
  const parts = value.split('.');
  if (parts.length > 2) validateIdentifier('table', value);
  const [first = '', second] = parts;
  if (second === undefined) return { name: validateIdentifier('table', first) };
  return { schema: validateIdentifier('table schema', first), name: validateIdentifier('table', second) };
}

export function formatTableName(table: TableName): string {
  return table.schema ? `${table.schema}.${table.name}` : table.name;
}
