import { RuntimeError } from '../errors.js';
import type { Sink } from '../sinks/types.js';
import { batchRecords, type RecordSource } from './batcher.js';
import { CheckpointQueue } from './checkpoint-queue.js';
import { DEFAULT_RETRY_POLICY, nextRetryDelay, systemClock, type Clock, type RetryPolicy } from './retry.js';
import type { ExportRecord, Position } from '../domain.js';

export interface DeliverOptions {
  /** Entries in (timestamp, id) order, one by one or a page at a time. */
  records: RecordSource;
  sink: Sink;
  /** Batches in flight at once. Default 4. */
  concurrency?: number;
  /**
   * Most batches sent (in flight or confirmed) past the last checkpoint written: what a kill can resend. Default
   * `deliveryWindow(concurrency)`; never below `concurrency`.
   */
  window?: number;
  /** Override the sink's batch limits. */
  batchMaxEntries?: number;
  batchMaxBytes?: number;
  retry?: Partial<RetryPolicy>;
  /** Aborted on SIGINT/SIGTERM: no new batch starts; in-flight requests get `abortGraceMs` to finish. */
  signal?: AbortSignal;
  /** Default 5 s; 0 aborts in-flight requests at once. */
  abortGraceMs?: number;
  /** Called after every confirmed batch. */
  onProgress?: (stats: DeliveryStats) => void;
  /** Called (one at a time, latest position wins) when the confirmed prefix of the stream grows. */
  onCheckpoint?: (position: Position) => void | Promise<void>;
  /** Called before each retry, for logging. */
  onRetry?: (event: RetryEvent) => void;
  clock?: Clock;
  random?: () => number;
}

export interface RetryEvent {
  batch: number;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface DeliveryStats {
  /** Records the sink confirmed (duplicates included). */
  exported: number;
  /** Batches fully confirmed. */
  batches: number;
  retries: number;
  /** Records the sink reported as already stored. */
  duplicates: number;
  /** Position of the first record read. */
  first?: Position;
  /** Last checkpointed position: every record up to it is confirmed. */
  last?: Position;
}

export interface DeliveryResult extends DeliveryStats {
  /** The signal stopped the run before the records ran out; `last` says how far it got. */
  interrupted: boolean;
}

/** A batch given up on because the run is stopping, not because the sink refused it. */
class Abandoned extends Error {}

const positionOf = (r: ExportRecord): Position => ({ timestamp: r.timestamp, id: r.id });

/** The default window: twice the batches in flight, so that sending goes on while a checkpoint is being fsynced (docs/decisions/002-delivery-window.md). */
export const deliveryWindow = (concurrency: number): number => 2 * concurrency;

/**
 * Ships `records` through `sink` with up to `concurrency` batches in flight, retrying per the policy, and
 * checkpointing only the contiguous prefix of confirmed batches. Throws `RuntimeError` (after checkpointing what
 * was confirmed) when the sink refuses a batch or a batch runs out of retries; returns `interrupted` on abort.
 */
export async function deliver(options: DeliverOptions): Promise<DeliveryResult> {
  const { sink, signal } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const window = Math.max(concurrency, options.window ?? deliveryWindow(concurrency));
  const stats: DeliveryStats = { exported: 0, batches: 0, retries: 0, duplicates: 0 };
  const stop = new AbortController(); // no new batch, no new attempt
  const hard = new AbortController(); // in-flight requests too
  const checkpoints = new CheckpointQueue(options.onCheckpoint, (position) => {
    stats.last = position;
  });
  let failure: unknown;
  const fail = (error: unknown): void => {
    failure ??= error;
    stop.abort();
    hard.abort();
  };
  let graceTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    stop.abort();
    graceTimer = setTimeout(() => hard.abort(), options.abortGraceMs ?? 5000);
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  checkpoints.onError = fail;

  async function runBatch(seq: number, batch: readonly ExportRecord[]): Promise<void> {
    let pending = batch;
    const state = { attempts: 0, startedAt: clock.now() };
    for (;;) {
      if (stop.signal.aborted) throw new Abandoned();
      state.attempts += 1;
      const outcome = await sink.send(pending, hard.signal);
      if (outcome.kind === 'fatal') throw new RuntimeError(outcome.reason);
      const left = outcome.kind === 'delivered' ? 0 : (outcome.remaining?.length ?? pending.length);
      const confirmed = pending.length - left;
      stats.exported += confirmed;
      stats.duplicates += outcome.duplicates ?? 0;
      if (outcome.kind === 'delivered' || outcome.remaining?.length === 0) return;
      pending = outcome.remaining ?? pending;
      if (stop.signal.aborted) throw new Abandoned();
      const wait = nextRetryDelay(state, outcome.retryAfterMs, policy, clock.now(), random);
      if (wait === undefined) {
        const secs = ((clock.now() - state.startedAt) / 1000).toFixed(1);
        const what = `${pending.length} entries (from id ${pending[0]?.id})`;
        throw new RuntimeError(
          `${sink.name}: gave up on ${what} after ${state.attempts} attempts in ${secs}s; last answer: ${outcome.reason}`,
        );
      }
      stats.retries += 1;
      options.onRetry?.({ batch: seq, attempt: state.attempts, delayMs: wait, reason: outcome.reason });
      await clock.sleep(wait, stop.signal).catch(() => {
        throw new Abandoned();
      });
    }
  }

  const batches = batchRecords(options.records, {
    maxEntries: options.batchMaxEntries ?? sink.defaults.maxEntries,
    maxBytes: options.batchMaxBytes ?? sink.defaults.maxBytes,
  });
  const inFlight = new Set<Promise<void>>();
  let sourceBlocked = false;
  try {
    for (let seq = 0; !stop.signal.aborted; seq += 1) {
      // The first batch goes alone: a bad token or index costs one request, not `concurrency` of them. No batch
      // starts past the window: a batch stuck in retries holds the checkpoint back, and with it what a kill resends.
      while (!stop.signal.aborted && (inFlight.size >= (stats.batches > 0 ? concurrency : 1) || seq >= checkpoints.durable + window)) {
        await untilAborted(Promise.race([...inFlight, checkpoints.advanced()]), stop.signal);
      }
      if (stop.signal.aborted) break;
      sourceBlocked = true;
      const next = await untilAborted(batches.next(), stop.signal);
      sourceBlocked = next === undefined;
      if (next === undefined || next.done) break;
      const batch = next.value;
      stats.first ??= positionOf(batch[0] as ExportRecord);
      const last = positionOf(batch[batch.length - 1] as ExportRecord);
      const task: Promise<void> = runBatch(seq, batch)
        .then(
          () => {
            stats.batches += 1;
            checkpoints.confirm(seq, last);
            options.onProgress?.({ ...stats });
          },
          (error: unknown) => {
            if (!(error instanceof Abandoned)) fail(error);
          },
        )
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  } catch (error) {
    // The source failed: keep what is in flight, then report.
    failure ??= error;
    stop.abort();
  } finally {
    await Promise.allSettled([...inFlight]);
    clearTimeout(graceTimer);
    signal?.removeEventListener('abort', onAbort);
    // A source stuck in next() cannot be awaited; otherwise let it release its connection.
    if (sourceBlocked) void batches.return().catch(() => undefined);
    else await batches.return().catch(() => undefined);
    await checkpoints.drain();
  }
  if (failure !== undefined) throw failure;
  return { ...stats, interrupted: signal?.aborted === true };
}

/** The promise's value, or undefined as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
