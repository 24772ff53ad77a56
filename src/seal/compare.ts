import type { Position } from '../domain.js';
import { changedFields, compareSealTimes, SealChain, type SealedEntry } from './canonical.js';

/** What verify found wrong, per seal range. */
export type Problem =
  | { kind: 'modified'; id: string; timestamp: string; fields: string[] }
  | { kind: 'deleted'; position: number; id: string; timestamp: string; previous: Position | null; next: Position | null }
  | { kind: 'inserted'; id: string; timestamp: string; late_commit_guard?: string }
  | { kind: 'archive-mismatch'; id: string; timestamp: string; archive: string }
  | { kind: 'bad-signature' | 'missing-seal-file' | 'chain-broken' | 'leaves-altered' | 'leaves-unreadable' | 'record-invalid'; file: string; detail: string }
  | { kind: 'unsealed-too-old'; count: number; oldest: string | null; detail: string };

/** An archived or exported copy of a pruned entry, as read from `verify --archive` files. */
export interface ArchivedEntry {
  file: string;
  /** The entry hash recomputed from the line, or undefined when secrets in it are masked. */
  hash?: string;
  /** The same with the timestamp read as BC (the line does not say), for a year that may be one. */
  bcHash?: string;
}

/** What a validly signed prune record lets go: entries before `cutoff` and, when it has one, at or before `upTo`. */
export interface PruneReach {
  cutoff: string;
  upTo?: Position;
}

export interface RangeContext {
  /** Entries before this were pruned on purpose (a signed prune record): their absence is expected. */
  pruneCutoff?: string;
  /** The same, one per prune record, each with its --only-exported bound. */
  prunes?: PruneReach[];
  archived: Map<string, ArchivedEntry>;
  /** The chain's value before the range (the record's previous_hash). */
  previousHash: string;
  /** The entry before the range, for a deletion's neighbours. */
  before: Position | null;
  /** How the seal bounded its range against late commits: says what an inserted entry can be. */
  lateCommitGuard?: string;
}

export interface RangeResult {
  problems: Problem[];
  /** Leaves in the seal's file, and the chain recomputed over them. */
  leaves: number;
  hash: string;
  /** Entries found in the database, and sealed entries gone because pruned (of which, found in an archive). */
  present: number;
  pruned: number;
  archived: number;
  last: Position | null;
}

/** A stream of entries that can be looked at before it is taken. */
export class EntryCursor {
  private buffer: SealedEntry[] = [];
  private at = 0;
  private ended = false;
  constructor(private readonly source: AsyncIterator<SealedEntry[]>) {}

  async peek(): Promise<SealedEntry | undefined> {
    while (this.at >= this.buffer.length && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else [this.buffer, this.at] = [next.value, 0];
    }
    return this.buffer[this.at];
  }

  /** The next entry if it lies before `to`. */
  async peekBefore(to: string): Promise<SealedEntry | undefined> {
    const entry = await this.peek();
    return entry && compareSealTimes(entry.timestamp, to) < 0 ? entry : undefined;
  }

  take(): void {
    this.at += 1;
  }
}

const positionOf = (entry: SealedEntry): Position => ({ timestamp: entry.timestamp, id: entry.id });

/**
 * Walks a seal's leaves and the database's entries of its range side by side, a timestamp at a time (within one
 * timestamp, entries are matched by id, so the order of ties never matters): an id in both with another hash is
 * modified (the fields whose digests differ), one only in the leaves is deleted (unless pruned), one only in the
 * database is inserted. A deleted and an inserted entry with the same id are one entry whose timestamp changed.
 * A table without a unique id can hold two entries with one id and timestamp: each is matched once, so a copy is
 * inserted, never hidden behind the original. Timestamps are ISO 8601 UTC with microseconds, in time order by
 * compareSealTimes (as text, but for BC years and infinities).
 */
export async function compareRange(leaves: AsyncIterable<SealedEntry>, database: EntryCursor, to: string, context: RangeContext): Promise<RangeResult> {
  const expected = new EntryCursor(batches(leaves));
  const result: RangeResult = { problems: [], leaves: 0, hash: '', present: 0, pruned: 0, archived: 0, last: null };
  const chain = new SealChain(context.previousHash);
  const deleted: { problem: Extract<Problem, { kind: 'deleted' }>; fields: string }[] = [];
  const inserted = new EntriesById();
  let previous = context.before;
  for (;;) {
    const [leaf, row] = [await expected.peek(), await database.peekBefore(to)];
    if (!leaf && !row) break;
    const timestamp = !leaf ? (row as SealedEntry).timestamp : !row || compareSealTimes(leaf.timestamp, row.timestamp) <= 0 ? leaf.timestamp : row.timestamp;
    const group: SealedEntry[] = [];
    for (let e = await expected.peek(); e && e.timestamp === timestamp; e = await expected.peek()) {
      group.push(e);
      expected.take();
    }
    const rows = new EntriesById();
    for (let r = await database.peekBefore(to); r && r.timestamp === timestamp; r = await database.peekBefore(to)) {
      rows.add(r);
      database.take();
      result.present += 1;
    }
    // Unchanged entries first, so that a changed copy of one never takes its place.
    const found = group.length > 1 ? group.map((entry) => rows.take(entry.id, entry.hash)) : undefined;
    for (const [i, entry] of group.entries()) {
      result.leaves += 1;
      chain.add(entry.hash);
      const match = (found ? found[i] : rows.take(entry.id, entry.hash)) ?? rows.take(entry.id);
      if (match) {
        if (match.hash !== entry.hash) result.problems.push({ kind: 'modified', id: entry.id, timestamp, fields: changedFields(entry.fields, match.fields) });
      } else if (wasPruned(entry, context)) {
        result.pruned += 1;
        checkArchived(entry, context, result);
      } else {
        const next = group[i + 1] ?? (await expected.peek());
        deleted.push({ problem: { kind: 'deleted', position: result.leaves, id: entry.id, timestamp, previous, next: next ? positionOf(next) : null }, fields: entry.fields });
      }
      previous = positionOf(entry);
    }
    for (const entry of rows.rest()) inserted.add(entry);
  }
  result.last = previous;
  result.hash = chain.digest();
  // An entry whose timestamp was changed left its place and turned up at another: one modification, not two.
  for (const { problem, fields } of deleted) {
    const moved = inserted.take(problem.id);
    if (moved) result.problems.push({ kind: 'modified', id: problem.id, timestamp: problem.timestamp, fields: changedFields(fields, moved.fields) });
    else result.problems.push(problem);
  }
  for (const entry of inserted.rest()) result.problems.push({ kind: 'inserted', id: entry.id, timestamp: entry.timestamp, late_commit_guard: context.lateCommitGuard });
  return result;
}

/** Entries by id, several per id when the table lets ids repeat (an array only then); each taken at most once. */
class EntriesById {
  private readonly byId = new Map<string, SealedEntry | SealedEntry[]>();

  add(entry: SealedEntry): void {
    const had = this.byId.get(entry.id);
    if (had === undefined) this.byId.set(entry.id, entry);
    else if (Array.isArray(had)) had.push(entry);
    else this.byId.set(entry.id, [had, entry]);
  }

  /** Removes and returns an entry of `id` (with `hash`, when given). */
  take(id: string, hash?: string): SealedEntry | undefined {
    const had = this.byId.get(id);
    if (had === undefined) return undefined;
    if (!Array.isArray(had)) {
      if (hash !== undefined && had.hash !== hash) return undefined;
      this.byId.delete(id);
      return had;
    }
    const at = had.findIndex((entry) => hash === undefined || entry.hash === hash);
    if (at < 0) return undefined;
    const [entry] = had.splice(at, 1);
    if (had.length === 0) this.byId.delete(id);
    return entry;
  }

  /** The entries not taken, in the order they were added per id. */
  rest(): SealedEntry[] {
    return [...this.byId.values()].flat();
  }
}

function wasPruned(entry: SealedEntry, context: RangeContext): boolean {
  if (context.pruneCutoff !== undefined && compareSealTimes(entry.timestamp, context.pruneCutoff) < 0) return true;
  return (context.prunes ?? []).some((reach) => compareSealTimes(entry.timestamp, reach.cutoff) < 0 && (reach.upTo === undefined || atOrBefore(entry, reach.upTo)));
}

/** (timestamp, id) <= position, ids compared as the index orders them: integers by value, other ids as text. */
function atOrBefore(entry: SealedEntry, position: Position): boolean {
  if (entry.timestamp !== position.timestamp) return compareSealTimes(entry.timestamp, position.timestamp) < 0;
  const integers = /^-?\d+$/.test(entry.id) && /^-?\d+$/.test(position.id);
  return integers ? BigInt(entry.id) <= BigInt(position.id) : entry.id <= position.id;
}

function checkArchived(entry: SealedEntry, context: RangeContext, result: RangeResult): void {
  const copy = context.archived.get(entry.id);
  if (!copy) return;
  result.archived += 1;
  const hash = entry.timestamp.endsWith(' BC') ? copy.bcHash : copy.hash;
  if (copy.hash !== undefined && hash !== entry.hash) {
    result.problems.push({ kind: 'archive-mismatch', id: entry.id, timestamp: entry.timestamp, archive: copy.file });
  }
}

async function* batches<T>(source: AsyncIterable<T>): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of source) {
    batch.push(item);
    if (batch.length >= 1000) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Takes the database's entries before `to` without checking them (a range whose seal file is missing or unreadable). */
export async function skipRange(database: EntryCursor, to: string | undefined): Promise<number> {
  let skipped = 0;
  for (let row = await database.peek(); row && (to === undefined || compareSealTimes(row.timestamp, to) < 0); row = await database.peek()) {
    database.take();
    skipped += 1;
  }
  return skipped;
}
