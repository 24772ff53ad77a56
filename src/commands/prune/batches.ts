import type { Position } from '../../domain.js';
import type { Db } from '../../db/connect.js';
import type { EntryArchive } from '../../db/archive-first.js';
import type { ResolvedMapping } from '../../db/mapping.js';
import { deleteBatch, type DeletedBatch, type PruneBound } from '../../queries/prune.js';
import { anyEntryLeft } from '../../queries/prune-remaining.js';

/**
 * Batch sizes for a prune without `--batch-size`: each DELETE is sized from the rate of the one before it to take
 * about {@link BATCH_TARGET_MS}, far below 250 ms so that a checkpoint's slow spell is crossed in small steps
 * (decision 004).
 */
export interface BatchSizing {
  /** The first batch, small because nothing is known yet of this table's speed (cold cache, a first plan). */
  first: number;
  min: number;
  max: number;
  targetMs: number;
}

export const BATCH_TARGET_MS = 40;

export const ADAPTIVE_BATCHES: BatchSizing = { first: 1000, min: 100, max: 20_000, targetMs: BATCH_TARGET_MS };

/** The next batch size after a batch of `size` entries took `ms` milliseconds. */
export function nextBatchSize(sizing: BatchSizing, size: number, ms: number): number {
  const aimed = Math.floor((size * sizing.targetMs) / Math.max(ms, 1));
  return Math.max(sizing.min, Math.min(aimed, size * 2, sizing.max));
}

/** Passes over the range before a prune stops reporting complete while back-dated entries keep arriving. */
const MAX_PASSES = 3;

export interface BatchLoop {
  /** Rows per DELETE, or 'auto' ({@link ADAPTIVE_BATCHES}). */
  batchSize: number | 'auto';
  /** With an archive, each batch's entries are on disk before it commits (db/archive-first.ts). */
  archive?: EntryArchive;
  /** Called after each batch that found rows; true stops the loop (a signal, --max-duration). */
  afterBatch(batch: DeletedBatch, ms: number): boolean;
}

/**
 * Deletes what is left in `bound`, batch by batch in (timestamp, id) order, each batch committed on its own. An entry
 * inserted back-dated behind the position while a pass ran is still there: look, and go over again, up to
 * {@link MAX_PASSES} times ('entries-remain' after that). Two passes in a row that found entries but deleted none of
 * them, with entries still left, met a table that keeps them (a BEFORE DELETE trigger returning NULL, a row security
 * policy): going over again would not help ('entries-kept'). One such pass alone may have lost every row it found to
 * another session deleting them.
 */
export async function deleteInBatches(conn: Db, mapping: ResolvedMapping, bound: PruneBound, loop: BatchLoop): Promise<'done' | 'stopped' | 'entries-remain' | 'entries-kept'> {
  let fruitless = 0;
  for (let pass = 1; ; pass += 1) {
    const outcome = await deletePass(conn, mapping, bound, loop);
    if (outcome.stopped) return 'stopped';
    if (!(await anyEntryLeft(conn, mapping, bound))) return 'done';
    fruitless = outcome.found && outcome.deleted === 0 ? fruitless + 1 : 0;
    if (fruitless === 2) return 'entries-kept';
    if (pass === MAX_PASSES) return 'entries-remain';
  }
}

/** One pass over the range: whether it was stopped before its end, whether it found entries, how many it deleted. */
async function deletePass(conn: Db, mapping: ResolvedMapping, bound: PruneBound, loop: BatchLoop): Promise<{ stopped: boolean; found: boolean; deleted: number }> {
  const fixed = loop.batchSize === 'auto' ? undefined : loop.batchSize;
  let size = fixed ?? ADAPTIVE_BATCHES.first;
  let from: Position | undefined;
  let deleted = 0;
  for (;;) {
    const began = performance.now();
    const batch = await deleteBatch(conn, mapping, bound, from, size, loop.archive);
    // A batch has an end only when its range held entries, deleted or not.
    if (!batch.end) return { stopped: false, found: from !== undefined, deleted };
    from = batch.end;
    deleted += batch.deleted;
    const ms = performance.now() - began;
    if (fixed === undefined) size = nextBatchSize(ADAPTIVE_BATCHES, size, ms);
    if (loop.afterBatch(batch, ms)) return { stopped: true, found: true, deleted };
  }
}
