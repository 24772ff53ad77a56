import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, LockBusyError } from '../../errors.js';
import type { Db } from '../../db/connect.js';
import { pruneLockName, tryAdvisoryLock, type LockHolder } from '../../db/advisory-lock.js';
import { describeLockWait } from '../../output/lock-busy.js';

/** --wait-lock: pause between attempts at the lock. */
const LOCK_RETRY_MS = 250;


/**
 * Takes the table's prune lock, or throws LockBusyError (exit 3). With --wait-lock, tries again until that much time
 * has passed: a prune killed with -9 leaves its backend running its last DELETE, holding the lock until it ends.
 */
export async function acquireLock(conn: Db, table: string, waitMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  const deadline = performance.now() + (waitMs ?? 0);
  for (;;) {
    const result = await tryAdvisoryLock(conn, pruneLockName(table));
    if (result.acquired) return;
    const left = deadline - performance.now();
    if (waitMs === undefined || left <= 0) throw new LockBusyError(describeBusy(table, result.holder, waitMs));
    // The sleep rejects only when the signal aborts, which is checked next.
    await sleep(Math.min(LOCK_RETRY_MS, left), undefined, { signal }).catch(() => undefined);
    if (signal?.aborted) throw new InterruptedError(`interrupted while waiting for the prune lock of ${table}; nothing was done`);
  }
}

function describeBusy(table: string, holder: LockHolder | undefined, waitedMs: number | undefined): string {
  const parts = holder
    ? [
        `PostgreSQL backend pid ${holder.pid}`,
        holder.role ? `role '${holder.role}'` : '',
        holder.applicationName ? `application '${holder.applicationName}'` : '',
        holder.since ? `since ${holder.since}` : '',
      ].filter(Boolean)
    : [];
  const who = parts.length > 0 ? ` (${parts.join(', ')})` : '';
  return `another prune of ${table} is running${who}; ${describeLockWait(waitedMs)}`;
}
