/**
 * Batch sizes for a prune without `--batch-size`: each DELETE is sized from the rate of the one before it so that it
 * takes about {@link BATCH_TARGET_MS}. The target sits far below the 250 ms that no statement may exceed, because a
 * checkpoint can make the same batch several times slower for a second or so (measured at 2,000,000 rows: 26 ms
 * batches took up to 163 ms while the checkpointer synced the table's files); the batch after a slow one is
 * smaller, so a slow spell is crossed in small steps, and the size grows back at most twofold per batch.
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
