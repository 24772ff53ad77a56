import type { CliIo } from '../../io.js';
import type { PruneSummary } from '../../domain.js';
import { ConnectionLostError, InterruptedError, RuntimeError, UsageError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import type { Db } from '../../db/connect.js';
import { releaseAdvisoryLock } from '../../db/advisory-lock.js';
import { formatTableName } from '../../db/identifiers.js';
import { withReadOnlySession } from '../../db/read-only.js';
import { withAuditTable, type AuditTable } from '../../db/session.js';
import { resetPruneSession, setPruneSession } from '../../queries/prune.js';
import { findPruneThroughView } from '../../queries/prune-view.js';
import { ArchiveWriteError } from '../../output/archive-writer.js';
import { checkWritableDirectory } from '../../output/private-file.js';
import { formatPruneSummary, pruneSummaryJson } from '../../output/prune-summary.js';
import { DropBlockedError } from './partitions.js';
import { pruneLockName } from '../../db/advisory-lock.js';
import { acquireLock } from './lock.js';
import type { PruneOptions } from './options.js';
import { describeView } from './obstacles.js';
import { PruneRun, type StartedPrune } from './prune-run.js';

/**
 * `api7-audit prune`: deletes entries older than the retention, then prints the summary. Interrupted runs print
 * their summary too, then exit 130; the next run continues where this one stopped.
 */
export async function runPrune(options: PruneOptions, config: ResolvedConfig, io: CliIo): Promise<PruneSummary> {
  // A path that cannot be written fails before the prompt, the lock and any DELETE; a dry run checks it too, so that
  // it says what the real run would.
  if (options.archive !== undefined) await checkWritableDirectory(options.archive, '--archive');
  const started: StartedPrune = {};
  let summary: PruneSummary;
  try {
    summary = await withAuditTable(config, (table) => pruneTable(table, options, config.secrets, io, started), { activity: 'prune' });
  } catch (error) {
    // The batches committed before the connection or the archive failed stay deleted: say how many, then why.
    const stopped = error instanceof ConnectionLostError ? 'connection-lost' : error instanceof ArchiveWriteError ? 'archive-failed' : undefined;
    if (stopped && started.summary) printSummary({ ...started.summary, stopped }, options, io);
    // Every entry before the cutoff is out of the table; a partition that could not be dropped is kept as a table.
    if (error instanceof DropBlockedError && started.summary) printSummary(started.summary, options, io);
    throw error;
  }
  printSummary(summary, options, io);
  if (summary.stopped === 'interrupted') {
    throw new InterruptedError(`interrupted: deleted ${summary.deleted} of ${summary.matched} entries; the rest is intact, run again to continue`);
  }
  if (summary.stopped === 'entries-kept') {
    throw new RuntimeError(
      `${summary.table} keeps entries older than the cutoff: its DELETE removed none of those left (a BEFORE DELETE trigger returning NULL, ` +
        'or a row security policy); no run of prune can delete them until that changes',
    );
  }
  return summary;
}

function printSummary(summary: PruneSummary, options: PruneOptions, io: CliIo): void {
  io.stdout.write(options.output === 'json' ? `${JSON.stringify(pruneSummaryJson(summary))}\n` : formatPruneSummary(summary));
}


/**
 * Prunes one table on one dedicated connection, which holds the advisory lock for the whole run: if the connection
 * is lost, the lock goes with it and the open batch rolls back. Returns data; printing is the caller's.
 */
export async function pruneTable(
  table: AuditTable,
  options: PruneOptions,
  secrets: ResolvedConfig['secrets'],
  io: CliIo,
  started: StartedPrune = {},
): Promise<PruneSummary> {
  const began = performance.now();
  const name = formatTableName(table.mapping.table);
  const runOn = async (conn: Db) => {
    await setPruneSession(conn);
    try {
      return await new PruneRun(conn, table, options, io, began, started).execute(secrets);
    } finally {
      await resetPruneSession(conn);
    }
  };
  return table.db.connection().execute(async (conn) => {
    // A dry run changes nothing, so it neither needs the lock nor is kept out by a prune that holds it; PostgreSQL
    // holds it to that: its settings and counts run READ ONLY (one transaction would abort at a refused setting).
    if (options.dryRun) return withReadOnlySession(conn, runOn);
    // Before the lock, which a view would key on itself rather than on its table.
    const view = await findPruneThroughView(conn, table.mapping);
    if (view) throw new UsageError(describeView(view, name));
    await acquireLock(conn, name, options.waitLockMs, io.signal);
    try {
      return await runOn(conn);
    } finally {
      // Best effort: when the connection is gone, so is the lock.
      await releaseAdvisoryLock(conn, pruneLockName(name)).catch(() => undefined);
    }
  });
}

export type { StartedPrune } from './prune-run.js';
