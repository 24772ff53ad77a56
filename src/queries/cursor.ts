import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { normalizeInstant } from '../config/instant.js';
import { formatTableName } from '../db/identifiers.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { idProblem } from './id-check.js';
import { describeFilters } from '../config/describe-filters.js';
import type { EntryFilters, Position } from '../domain.js';

/** What a page was made for: a cursor continues only the same listing. */
export interface CursorScope {
  order: 'asc' | 'desc';
  filters: EntryFilters;
}

/** A decoded `--cursor`: the position, and (from this version on) what it was made for. */
export type CursorPosition = Position & { made?: CursorStamp };

/** Short, but enough to name what differs: order and table as they were, one 8-hex digest per filter flag. */
interface CursorStamp {
  order: string;
  table: string;
  filters: Record<string, string>;
}

/**
 * `--cursor` values are opaque to users but simple inside: the (timestamp, id) position of the last entry shown and
 * what the listing was (order, filters, table), base64url-encoded JSON so it survives shells and URLs.
 */
export function encodeCursor(position: Position, scope?: CursorScope & { mapping: ResolvedMapping }): string {
  const body = scope
    ? { p: [position.timestamp, position.id], o: scope.order, t: formatTableName(scope.mapping.table), f: filterDigests(scope.filters) }
    : [position.timestamp, position.id];
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeCursor(value: string): CursorPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    const stamped = isStamped(parsed) ? parsed : undefined;
    const pair = stamped ? stamped.p : parsed;
    if (Array.isArray(pair) && pair.length === 2) {
      const [timestamp, id] = pair as unknown[];
      const normalized = typeof timestamp === 'string' ? normalizeInstant(timestamp) : undefined;
      if (normalized !== undefined && typeof id === 'string') {
        return stamped ? { timestamp: normalized, id, made: { order: stamped.o, table: stamped.t, filters: stamped.f } } : { timestamp: normalized, id };
      }
    }
  } catch (error) {
    // Base64url decoding never throws; only JSON.parse does, and bad JSON gets the usage error below.
    if (!(error instanceof SyntaxError)) throw error;
  }
  throw new UsageError(`invalid --cursor '${shorten(value)}': use the value printed after the previous page`);
}

/**
 * Refuses a cursor made for another listing (order, filters, table), naming what differs, and one whose id the
 * table's id column cannot hold (edited by hand). A cursor without a stamp (an older version's) is only id-checked.
 */
export function checkCursor(mapping: ResolvedMapping, position: CursorPosition, scope?: CursorScope): void {
  const made = position.made;
  if (made && scope) {
    const table = formatTableName(mapping.table);
    const differences = [
      ...(made.order === scope.order ? [] : [`--order (made for ${made.order}, given ${scope.order})`]),
      ...(made.table === table ? [] : [`the table (made for ${made.table}, given ${table})`]),
      ...differingFilters(made.filters, filterDigests(scope.filters)),
    ];
    if (differences.length > 0) {
      throw new UsageError(
        `--cursor was made for another listing (${differences.join('; ')}): repeat the flags of the page that printed it, or leave out --cursor to start over`,
      );
    }
  }
  const problem = idProblem(mapping, position.id);
  if (problem) {
    throw new UsageError(
      `invalid --cursor '${shorten(encodeCursor(position))}': its id ${JSON.stringify(position.id)} cannot be in ${formatTableName(mapping.table)}, whose ids are ${problem}; use the value printed after the previous page of this table`,
    );
  }
}

function filterDigests(filters: EntryFilters): Record<string, string> {
  const digests: Record<string, string> = {};
  for (const [flag, value] of Object.entries(describeFilters(filters))) {
    digests[flag] = createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
  }
  return digests;
}

function differingFilters(made: Record<string, string>, given: Record<string, string>): string[] {
  const flags = [...new Set([...Object.keys(made), ...Object.keys(given)])].sort();
  return flags.filter((flag) => made[flag] !== given[flag]).map((flag) => (made[flag] === undefined ? `${flag} (not given then)` : given[flag] === undefined ? `${flag} (given then, not now)` : `${flag} (other values)`));
}

function isStamped(value: unknown): value is { p: unknown; o: string; t: string; f: Record<string, string> } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { o, t, f } = value as Record<string, unknown>;
  return typeof o === 'string' && typeof t === 'string' && typeof f === 'object' && f !== null && Object.values(f).every((digest) => typeof digest === 'string');
}

function shorten(value: string): string {
  return value.length > 60 ? `${value.slice(0, 60)}…` : value;
}
