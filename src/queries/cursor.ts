import { UsageError } from '../errors.js';
import { normalizeInstant } from '../config/instant.js';
import type { Position } from '../db/entry-columns.js';
import { formatTableName } from '../db/identifiers.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { idProblem } from './id-check.js';

/**
 * `--cursor` values are opaque to users but simple inside: the (timestamp, id) position of the last entry shown,
 * base64url-encoded so it survives shells and URLs.
 */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.timestamp, position.id])).toString('base64url');
}

export function decodeCursor(value: string): Position {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [timestamp, id] = parsed as unknown[];
      const normalized = typeof timestamp === 'string' ? normalizeInstant(timestamp) : undefined;
      if (normalized !== undefined && typeof id === 'string') return { timestamp: normalized, id };
    }
  } catch (error) {
    // Base64url decoding never throws; only JSON.parse does, and bad JSON gets the usage error below.
    if (!(error instanceof SyntaxError)) throw error;
  }
  throw new UsageError(`invalid --cursor '${shorten(value)}': use the value printed after the previous page`);
}

/** Refuses a cursor whose id the table's id column cannot hold (a cursor of another table, or edited by hand). */
export function checkCursor(mapping: ResolvedMapping, position: Position): void {
  const problem = idProblem(mapping, position.id);
  if (problem) {
    throw new UsageError(
      `invalid --cursor '${shorten(encodeCursor(position))}': its id ${JSON.stringify(position.id)} cannot be in ${formatTableName(mapping.table)}, whose ids are ${problem}; use the value printed after the previous page of this table`,
    );
  }
}

function shorten(value: string): string {
  return value.length > 60 ? `${value.slice(0, 60)}…` : value;
}
