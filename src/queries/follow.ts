import type { AuditEntry, EntryFilters, Position } from '../domain.js';
import type { Db } from '../db/connect.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { fetchPage, PAGE_SIZE } from './list.js';

export { readOpenTransactions } from './export.js';

/** What one poll of `follow` may print: after the last printed position, before the bound no open transaction can still commit behind. */
export interface FollowWindow {
  filters: EntryFilters;
  /** Strictly after this (timestamp, id): the last entry printed, or the cursor. */
  after?: Position;
  /** At or after this instant (ISO, resolved once at the start: "now" or --since). */
  from?: string;
  /** Before this instant (exclusive): export's late-commit bound of this poll. */
  before: string;
  /** Whether to read before/after (the table never shows them). */
  states: boolean;
}

/**
 * The next entries of the window in (timestamp, id) order: one keyset range scan of the `(created_at, id)` index,
 * as list's pages are, from the window's `--since` up to its bound, compared as list orders (by the instant for a
 * fractional epoch or a local time: a raw `--until` left out an entry of a microsecond already printed, for ever).
 */
export function fetchWindow(db: Db, mapping: ResolvedMapping, window: FollowWindow, limit = PAGE_SIZE): Promise<AuditEntry[]> {
  const filters: EntryFilters = {
    ...window.filters,
    since: window.from === undefined ? undefined : { kind: 'absolute', iso: window.from },
  };
  return fetchPage(db, mapping, { filters, order: 'asc', after: window.after, before: window.before, states: window.states }, limit);
}

export { PAGE_SIZE };
