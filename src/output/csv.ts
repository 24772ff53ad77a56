import { CANONICAL_FIELDS, type AuditEntry, type CanonicalField } from '../domain.js';

/**
 * RFC 4180 CSV: CRLF line ends; a field holding a comma, a double quote, CR or LF is quoted, with its quotes
 * doubled. `before` and `after` are compact JSON text; null and undefined are an empty field (so an empty string
 * and a null look the same: CSV has no null, use JSON output when that matters).
 *
 * Values are never altered. A value starting with `=`, `+`, `-` or `@` may be read as a formula by a spreadsheet
 * (CSV injection); the usual guard prefixes a `'`, but an audit export must keep the exact data, so opening the
 * file as text (or importing with column types set to text) is left to the reader.
 */
export function csvHeader(fields: readonly CanonicalField[] = CANONICAL_FIELDS): string {
  return `${fields.join(',')}\r\n`;
}

/** One entry as a CSV record, in canonical field order, ending in CRLF. */
export function csvRow(entry: AuditEntry): string {
  return csvRowOf(entry, CANONICAL_FIELDS);
}

/** One entry as a CSV record of `fields` (`--fields`), in their order, ending in CRLF. */
export function csvRowOf(entry: AuditEntry, fields: readonly CanonicalField[]): string {
  const values = fields.map((field) => {
    const value: unknown = entry[field];
    if (value === null || value === undefined) return '';
    const text = field === 'before' || field === 'after' ? JSON.stringify(value) : String(value);
    return csvQuote(text);
  });
  return `${values.join(',')}\r\n`;
}

/** Quotes a field only when RFC 4180 requires it. */
export function csvQuote(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
