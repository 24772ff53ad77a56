import type { Db } from '../../db/connect.js';
import { InterruptedError, RuntimeError } from '../../errors.js';
import type { EntryArchive } from '../../db/archive-first.js';
import type { ResolvedMapping } from '../../db/mapping.js';
import { dropDetached, isInsufficientPrivilege, isLockConflict, partitionName, removePartition, type TimePartition } from '../../queries/partitions.js';
import { nextRetryDelay, systemClock, type Clock, type RetryPolicy } from '../../delivery/retry.js';

/** Retries at the parent's lock a partition detach needs, before the partition is left to row-by-row deletion. */
export const DETACH_RETRY: Readonly<RetryPolicy> = { baseMs: 250, capMs: 1000, maxAttempts: 4, maxRetryMs: 5000 };
/** Entries read per query when a partition is archived before it is dropped (unless --batch-size says otherwise). */
const ARCHIVE_PAGE_SIZE = 5000;

export interface DetachOptions {
  /** --detach-only: the partition stays a table of its own. */
  keep: boolean;
  /** Copy the partition's entries here (masked) before it goes. */
  archive?: EntryArchive;
  pageSize?: number;
  onArchived?: (entries: number) => void;
  clock?: Clock;
  signal?: AbortSignal;
}

/**
 * Removes a partition wholly before the cutoff from the audit table (queries/partitions.ts `removePartition`); the
 * caller then drops it on its own (unless --detach-only), which locks nothing the control plane uses. When the
 * parent's lock cannot be had within a short timeout, a few retries follow (the tool's one backoff,
 * delivery/retry.ts), of the DETACH alone, in its transaction: what was archived stays valid (retrying the whole
 * transaction copied a partition again for each attempt, and after a copy longer than the retry budget, gave up at
 * the first timeout). After that ('busy'), or when the role may delete rows but not detach ('forbidden': only the
 * owner may), the partition stays attached, its rows going row by row like any others. Returns its entry count.
 */
export async function detachOldPartition(
  conn: Db,
  mapping: ResolvedMapping,
  partition: TimePartition,
  options: DetachOptions,
): Promise<number | 'busy' | 'forbidden'> {
  const clock = options.clock ?? systemClock;
  const retrying = async <T>(attempt: () => Promise<T>): Promise<T> => {
    const state = { attempts: 0, startedAt: clock.now() };
    for (;;) {
      state.attempts += 1;
      try {
        return await attempt();
      } catch (error) {
        if (!isLockConflict(error)) throw error;
        const wait = nextRetryDelay(state, undefined, DETACH_RETRY, clock.now());
        if (wait === undefined) throw new LockRetriesSpent(error);
        await clock.sleep(wait, options.signal ?? new AbortController().signal).catch(() => undefined);
        if (options.signal?.aborted) throw new InterruptedError(`interrupted while waiting to detach ${partitionName(partition)}; it is intact`);
      }
    }
  };
  try {
    // The partition's own lock (before anything is copied) is retried with the whole transaction, the DETACH within it.
    return await retrying(() => removePartition(conn, mapping, partition, { ...options, pageSize: options.pageSize ?? ARCHIVE_PAGE_SIZE, retryDetach: retrying }));
  } catch (error) {
    if (isInsufficientPrivilege(error)) return 'forbidden';
    if (error instanceof LockRetriesSpent) return 'busy';
    throw error;
  }
}

/** The DETACH (or the partition's lock) timed out on every attempt: the partition goes row by row. */
class LockRetriesSpent extends Error {
  constructor(cause: unknown) {
    super('lock retries spent', { cause });
  }
}

/**
 * Drops detached tables on the pool's other connection while the prune goes on with the next partition or the
 * row-by-row deletion: a DROP commits only once the table's files are gone, and the table is no longer part of the
 * audit table, so nothing waits on it (docs/decisions/004-prune-batches-and-partitions.md). The DROPs queue on that one
 * connection. A table whose DROP fails stays marked and is dropped by the next run.
 */
export class BackgroundDrops {
  private readonly pending: Promise<{ name: string; error?: unknown }>[] = [];

  constructor(private readonly db: Db) {}

  start(table: Pick<TimePartition, 'schema' | 'name'>): void {
    const name = partitionName(table);
    this.pending.push(
      dropDetached(this.db, table).then(
        () => ({ name }),
        (error: unknown) => ({ name, error }),
      ),
    );
  }

  /**
   * Waits for every DROP started so far: the tables dropped, in the order they were started; those that other objects
   * depend on (a view), which stay detached; and the first other failure.
   */
  async settle(): Promise<{ dropped: string[]; blocked: { name: string; why: string }[]; error?: unknown }> {
    const settled = await Promise.all(this.pending.splice(0));
    const failed = settled.filter((drop) => 'error' in drop);
    const blocked = failed.filter((drop) => isDependedOn(drop.error)).map((drop) => ({ name: drop.name, why: dependents(drop.error) }));
    return {
      dropped: settled.filter((drop) => !('error' in drop)).map((drop) => drop.name),
      blocked,
      error: failed.find((drop) => !isDependedOn(drop.error))?.error,
    };
  }
}

/** "cannot drop table ... because other objects depend on it" (SQLSTATE 2BP01). */
const isDependedOn = (error: unknown) => (error as { code?: unknown } | null)?.code === '2BP01';

/** The server's detail: "view s.v depends on table s.p", one line per dependent object. */
const dependents = (error: unknown) => String((error as { detail?: unknown }).detail ?? 'other objects depend on it').split('\n').join('; ');

/** Partitions detached (their entries out of the audit table) that could not be dropped: objects depend on them. */
export class DropBlockedError extends RuntimeError {
  constructor(table: string, blocked: { name: string; why: string }[]) {
    const names = blocked.map((drop) => drop.name).join(', ');
    const why = blocked.map((drop) => drop.why).join('; ');
    super(`detached from ${table} but not dropped: ${names} (${why}); drop or change those objects, then the next prune drops it`);
  }
}
