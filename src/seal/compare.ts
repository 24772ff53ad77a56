import type { Position } from '../domain.js';
import { changedFields, SealChain, type SealedEntry } from './canonical.js';

/** What verify found wrong, per seal range. */
export type Problem =
  | { kind: 'modified'; id: string; timestamp: string; fields: string[] }
  | { kind: 'deleted'; position: number; id: string; timestamp: string; previous: Position | null; next: Position | null }
  | { kind: 'inserted'; id: string; timestamp: string }
  | { kind: 'archive-mismatch'; id: string; timestamp: string; archive: string }
  | { kind: 'bad-signature' | 'missing-seal-file' | 'chain-broken' | 'leaves-altered' | 'leaves-unreadable' | 'record-invalid'; file: string; detail: string };

/** An archived or exported copy of a pruned entry, as read from `verify --archive` files. */
export interface ArchivedEntry {
  file: string;
  /** The entry hash recomputed from the line, or undefined when secrets in it are masked. */
  hash?: string;
}

export interface RangeContext {
  /** Entries before this were pruned on purpose (a signed prune record): their absence is expected. */
  pruneCutoff?: string;
  archived: Map<string, ArchivedEntry>;
  /** The chain's value before the range (the record's previous_hash). */
  previousHash: string;
  /** The entry before the range, for a deletion's neighbours. */
  before: Position | null;
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
    return entry && entry.timestamp < to ? entry : undefined;
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
 * Timestamps are ISO 8601 UTC with microseconds, which sort as text.
 */
export async function compareRange(leaves: AsyncIterable<SealedEntry>, database: EntryCursor, to: string, context: RangeContext): Promise<RangeResult> {
  const expected = new EntryCursor(batches(leaves));
  const result: RangeResult = { problems: [], leaves: 0, hash: '', present: 0, pruned: 0, archived: 0, last: null };
  const chain = new SealChain(context.previousHash);
  const deleted: Extract<Problem, { kind: 'deleted' }>[] = [];
  const inserted: SealedEntry[] = [];
  const deletedFields = new Map<string, string>();
  let previous = context.before;
  for (;;) {
    const [leaf, row] = [await expected.peek(), await database.peekBefore(to)];
    if (!leaf && !row) break;
    const timestamp = !leaf ? (row as SealedEntry).timestamp : !row || leaf.timestamp <= row.timestamp ? leaf.timestamp : row.timestamp;
    const group: SealedEntry[] = [];
    for (let e = await expected.peek(); e && e.timestamp === timestamp; e = await expected.peek()) {
      group.push(e);
      expected.take();
    }
    const rows = new Map<string, SealedEntry>();
    for (let r = await database.peekBefore(to); r && r.timestamp === timestamp; r = await database.peekBefore(to)) {
      rows.set(r.id, r);
      database.take();
    }
    result.present += rows.size;
    for (const [i, entry] of group.entries()) {
      result.leaves += 1;
      chain.add(entry.hash);
      const found = rows.get(entry.id);
      rows.delete(entry.id);
      if (found) {
        if (found.hash !== entry.hash) result.problems.push({ kind: 'modified', id: entry.id, timestamp, fields: changedFields(entry.fields, found.fields) });
      } else if (context.pruneCutoff !== undefined && entry.timestamp < context.pruneCutoff) {
        result.pruned += 1;
        checkArchived(entry, context, result);
      } else {
        const next = group[i + 1] ?? (await expected.peek());
        deleted.push({ kind: 'deleted', position: result.leaves, id: entry.id, timestamp, previous, next: next ? positionOf(next) : null });
        deletedFields.set(entry.id, entry.fields);
      }
      previous = positionOf(entry);
    }
    inserted.push(...rows.values());
  }
  result.last = previous;
  result.hash = chain.digest();
  // An entry whose timestamp was changed left its place and turned up at another: one modification, not two.
  const moved = new Map(inserted.filter((entry) => deletedFields.has(entry.id)).map((entry) => [entry.id, entry]));
  for (const problem of deleted) {
    const entry = moved.get(problem.id);
    if (entry) result.problems.push({ kind: 'modified', id: problem.id, timestamp: problem.timestamp, fields: changedFields(deletedFields.get(problem.id) as string, entry.fields) });
    else result.problems.push(problem);
  }
  for (const entry of inserted) if (!moved.has(entry.id)) result.problems.push({ kind: 'inserted', id: entry.id, timestamp: entry.timestamp });
  return result;
}

function checkArchived(entry: SealedEntry, context: RangeContext, result: RangeResult): void {
  const copy = context.archived.get(entry.id);
  if (!copy) return;
  result.archived += 1;
  if (copy.hash !== undefined && copy.hash !== entry.hash) {
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
  for (let row = await database.peek(); row && (to === undefined || row.timestamp < to); row = await database.peek()) {
    database.take();
    skipped += 1;
  }
  return skipped;
}
