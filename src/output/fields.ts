import { CANONICAL_FIELDS, type AuditEntry, type CanonicalField } from '../domain.js';
import { UsageError } from '../errors.js';
import { TABLE_FIELDS, type TableField } from './table.js';

/**
 * `--fields id,timestamp,operator`: the keys of JSON/NDJSON entries and the CSV columns (canonical names, in the
 * order given), or the table's columns (which may also name `resource`, the TYPE:NAME column).
 */
export function parseFields(value: string, table: true): TableField[];
export function parseFields(value: string, table: false): CanonicalField[];
export function parseFields(value: string, table: boolean): string[] {
  const known: readonly string[] = table ? TABLE_FIELDS : CANONICAL_FIELDS;
  const fields = value.split(',').map((field) => field.trim().toLowerCase());
  const unknown = fields.filter((field) => !known.includes(field));
  if (fields.every((field) => field === '') || unknown.length > 0) {
    const which = unknown.filter((field) => field !== '').join(', ') || 'nothing';
    throw new UsageError(`invalid --fields '${value}': ${which} ${table ? 'is not a table column' : 'is not an entry field'}; use ${known.join(',')}`);
  }
  return [...new Set(fields)];
}

/** The entry with only `fields`, in their order (null for a field the table does not have). */
export function pickFields(entry: AuditEntry, fields: readonly CanonicalField[]): Partial<AuditEntry> {
  const picked: Record<string, unknown> = {};
  for (const field of fields) picked[field] = entry[field] ?? null;
  return picked as Partial<AuditEntry>;
}
