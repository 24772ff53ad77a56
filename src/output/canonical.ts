import { CANONICAL_FIELDS, type AuditEntry } from '../domain.js';

/**
 * A copy of the entry with exactly the canonical fields, in canonical order, and `null` for any left undefined.
 * JSON and NDJSON output go through it so every row has the same keys in the same order, and fields a caller
 * happened to attach (a raw row, a cursor) never leak into the output.
 */
export function toCanonicalEntry(entry: AuditEntry): AuditEntry {
  const canonical: Record<string, unknown> = {};
  for (const field of CANONICAL_FIELDS) canonical[field] = entry[field] ?? null;
  return canonical as unknown as AuditEntry;
}
