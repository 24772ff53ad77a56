import { setTimeout as sleep } from 'node:timers/promises';
import type { CliIo } from '../io.js';
import type { Position } from '../entry.js';
import { InterruptedError, LockBusyError, RuntimeError } from '../errors.js';
import type { ResolvedConfig } from '../config/resolve-config.js';
import type { Db } from '../db/connect.js';
import { releaseAdvisoryLock, tryAdvisoryLock, type LockHolder } from '../db/advisory-lock.js';
import { formatTableName } from '../db/identifiers.js';
import { withAuditTable, type AuditTable } from '../db/session.js';
import {
  countPartition,
  detachPartition,
  findDetachedLeftovers,
  isInsufficientPrivilege,
  isLockConflict,
  listTimePartitions,
  lockPartition,
  partitionName,
  partitionRef,
  type TimePartition,
} from '../queries/partitions.js';
import { computeCutoff, deleteBatch, matchEntries, readJsonPage, resetPruneSession, setPruneSession, type PruneBound } from '../queries/prune.js';
import { openArchive, type ArchiveWriter } from '../output/archive-writer.js';
import { createSecretPolicy, maskEntryJson } from '../output/secrets.js';
import { formatPruneSummary, pruneSummaryJson } from '../output/prune-summary.js';
import { ADAPTIVE_BATCHES, nextBatchSize } from './prune-batch-size.js';
import { BackgroundDrops } from './prune-drops.js';
import { confirm, isInteractive } from './prune-interaction.js';
import { silentProgress, startProgress, type Progress } from '../output/progress.js';
import type { PruneOptions, PruneSummary } from './prune-types.js';

export type { PruneOptions, PruneStop, PruneSummary, RetentionSource } from './prune-types.js';

/** Attempts at the lock a partition detach needs before the partition is left to row-by-row deletion. */
const DETACH_ATTEMPTS = 4;
const DETACH_BACKOFF_MS = 250;
/** Entries read per query when a partition is archived before it is dropped (unless --batch-size says otherwise). */
const ARCHIVE_PAGE_SIZE = 5000;

/** The advisory lock name: one prune at a time per table, whatever client runs it. */
export const pruneLockName = (table: string) => `api7-audit prune ${table}`;

/**
 * `api7-audit prune`: deletes entries older than the retention, then prints the summary. Interrupted runs print
 * their summary too, then exit 130; the next run continues where this one stopped.
 */
export async function runPrune(options: PruneOptions, config: ResolvedConfig, io: CliIo): Promise<PruneSummary> {
  const summary = await withAuditTable(config, (table) => pruneTable(table, options, config.secrets, io));
  io.stdout.write(options.output === 'json' ? `${JSON.stringify(pruneSummaryJson(summary))}\n` : formatPruneSummary(summary));
  if (summary.stopped === 'interrupted') {
    throw new InterruptedError(`interrupted: deleted ${summary.deleted} of ${summary.matched} entries; the rest is intact, run again to continue`);
  }
  return summary;
}

/**
 * Prunes one table on one dedicated connection, which holds the advisory lock for the whole run: if the connection
 * is lost, the lock goes with it and the open batch rolls back. Returns data; printing is the caller's.
 */
export async function pruneTable(table: AuditTable, options: PruneOptions, secrets: ResolvedConfig['secrets'], io: CliIo): Promise<PruneSummary> {
  const started = performance.now();
  const name = formatTableName(table.mapping.table);
  return table.db.connection().execute(async (conn) => {
    // A dry run changes nothing, so it neither needs the lock nor is kept out by a prune that holds it.
    if (!options.dryRun) await acquireLock(conn, name);
    await setPruneSession(conn);
    try {
      const run = new PruneRun(conn, table, options, io, started);
      return await run.execute(secrets);
    } finally {
      await resetPruneSession(conn);
      // Best effort: when the connection is gone, so is the lock.
      if (!options.dryRun) await releaseAdvisoryLock(conn, pruneLockName(name)).catch(() => undefined);
    }
  });
}

async function acquireLock(conn: Db, table: string): Promise<void> {
  const attempt = await tryAdvisoryLock(conn, pruneLockName(table));
  if (!attempt.acquired) throw new LockBusyError(describeBusy(table, attempt.holder));
}

function describeBusy(table: string, holder: LockHolder | undefined): string {
  const who = holder
    ? ` (PostgreSQL backend pid ${holder.pid}${holder.applicationName ? `, application '${holder.applicationName}'` : ''}${holder.since ? `, since ${holder.since}` : ''})`
    : '';
  return `another prune of ${table} is running${who}; nothing was done, try again when it has finished`;
}

/** One prune, step by step; its fields are the running totals that become the summary. */
class PruneRun {
  private readonly summary: PruneSummary;
  private readonly name: string;
  private progress: Progress;
  private readonly drops: BackgroundDrops;

  constructor(
    private readonly conn: Db,
    private readonly table: AuditTable,
    private readonly options: PruneOptions,
    private readonly io: CliIo,
    private started: number,
  ) {
    this.name = formatTableName(table.mapping.table);
    this.progress = silentProgress(io);
    this.drops = new BackgroundDrops(table.db);
    this.summary = {
      table: this.name,
      dryRun: options.dryRun,
      cutoff: '',
      retentionDays: options.retention.days,
      retentionSource: options.retention.source,
      matched: 0,
      deleted: 0,
      batches: 0,
      partitions: [],
      partitionsDropped: [],
      partitionsDetached: [],
      durationMs: 0,
      slowestBatchMs: 0,
    };
  }

  async execute(secrets: ResolvedConfig['secrets']): Promise<PruneSummary> {
    const { mapping } = this.table;
    const cutoff = this.options.cutoff ?? (await computeCutoff(this.conn, this.options.retention.days));
    this.summary.cutoff = cutoff;
    const exported = this.options.onlyExported;
    const bound: PruneBound = { before: cutoff, upTo: exported };
    this.summary.onlyExported = exported;
    // A partition may go whole only if every row in it is before the cutoff and already exported: its upper bound
    // must not pass the earlier of the two (rows at a timestamp before the checkpoint's are at or before it).
    const partitionLimit = exported && exported.timestamp < cutoff ? exported.timestamp : cutoff;
    const old = ((await listTimePartitions(this.conn, mapping, partitionLimit)) ?? []).filter((partition) => partition.whollyBefore);
    const match = await matchEntries(this.conn, mapping, bound);
    Object.assign(this.summary, { matched: match.matched, oldest: match.oldest, newest: match.newest, partitions: old.map(partitionName) });
    if (this.options.dryRun) return this.finish();
    const leftovers = await findDetachedLeftovers(this.conn, mapping);
    if (match.matched === 0 && old.length === 0 && leftovers.length === 0) return this.finish();
    if (this.shouldStop(false)) return this.finish();
    if (!this.options.yes && isInteractive(this.io)) {
      const asked = performance.now();
      if (!(await confirm(this.io, this.question(old)))) throw new RuntimeError('cancelled at the confirmation prompt; nothing was deleted');
      // Time spent reading the question counts neither toward --max-duration nor the rate.
      this.started += performance.now() - asked;
    }
    const mask = this.masker(secrets);
    const archive = this.options.archive === undefined ? undefined : await openArchive(this.options.archive);
    if (archive) this.summary.archive = { path: archive.path, entries: 0 };
    this.progress = await startProgress(this.io, `Pruning ${this.name}: entries before ${cutoff}`);
    try {
      // Partitions that an earlier run detached but was stopped before dropping (they are marked for it).
      for (const leftover of leftovers) this.drops.start(leftover);
      let stop = this.shouldStop(false);
      for (const [index, partition] of old.entries()) {
        if (stop) break;
        const failed = await this.dropPartition(partition, archive, mask);
        if (failed) {
          // The rest would fare no better: the parent stays locked, or the role stays what it is.
          const left = old.slice(index).map(partitionName).join(', ');
          const why = failed === 'busy' ? `could not lock ${this.name}` : `not allowed (DETACH needs the owner of ${this.name})`;
          this.progress.note(`warning: ${why} to detach ${left}; deleting their rows instead`);
          break;
        }
        stop = this.shouldStop(true);
      }
      if (!stop) await this.deleteRows(bound, archive, mask);
      const failed = await this.settleDrops();
      if (failed) throw failed;
    } finally {
      // After an error too: no DROP may still be running when the pool closes.
      await this.settleDrops();
      this.progress.stop();
      if (archive) this.summary.archive = { path: archive.path, entries: archive.entries };
      await archive?.close();
    }
    return this.finish();
  }

  /**
   * Deletes what is left before the cutoff, batch by batch, each batch committed on its own: one statement, or with
   * an archive a transaction that commits once the batch's entries are on disk.
   */
  private async deleteRows(bound: PruneBound, archive: ArchiveWriter | undefined, mask: (json: string) => string): Promise<void> {
    const { mapping } = this.table;
    const fixed = this.options.batchSize === 'auto' ? undefined : this.options.batchSize;
    let size = fixed ?? ADAPTIVE_BATCHES.first;
    let from: Position | undefined;
    for (;;) {
      const began = performance.now();
      const batch = archive
        ? await this.conn.transaction().execute(async (trx) => {
            const deleted = await deleteBatch(trx, mapping, bound, from, size, true);
            // On disk before the COMMIT that follows this callback: a crash can leave an archived entry undeleted,
            // never a deleted entry unarchived.
            await archive.append(deleted.json.map(mask));
            return deleted;
          })
        : await deleteBatch(this.conn, mapping, bound, from, size, false);
      if (!batch.end) return;
      from = batch.end;
      const ms = performance.now() - began;
      this.summary.slowestBatchMs = Math.max(this.summary.slowestBatchMs, Math.round(ms));
      if (fixed === undefined) size = nextBatchSize(ADAPTIVE_BATCHES, size, ms);
      if (batch.deleted > 0) this.summary.batches += 1;
      this.summary.deleted += batch.deleted;
      this.report();
      if (this.shouldStop(true)) return;
    }
  }

  /**
   * Removes a partition wholly before the cutoff from the audit table: one short transaction locks it against
   * writes, counts it (or, with an archive, copies it out, so the archive holds exactly what goes), and detaches
   * it; then the table is dropped on its own (unless --detach-only), which locks nothing the control plane uses.
   * When the parent's lock cannot be had within a short timeout, a few retries follow; after that, or when the role
   * may delete rows but not detach (only the owner may), it says why and the partition stays attached, its rows
   * going row by row like any others.
   */
  private async dropPartition(
    partition: TimePartition,
    archive: ArchiveWriter | undefined,
    mask: (json: string) => string,
  ): Promise<'busy' | 'forbidden' | undefined> {
    const keep = this.options.detachOnly;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const entries = await this.conn.transaction().execute(async (trx) => {
          await lockPartition(trx, partition);
          const count = archive && !keep ? await this.archivePartition(trx, partition, archive, mask) : await countPartition(trx, partition);
          await detachPartition(trx, this.table.mapping, partition, keep);
          return count;
        });
        this.summary.deleted += entries;
        if (keep) this.summary.partitionsDetached.push(partitionName(partition));
        else this.drops.start(partition);
        this.report();
        return undefined;
      } catch (error) {
        if (isInsufficientPrivilege(error)) return 'forbidden';
        if (!isLockConflict(error)) throw error;
        if (attempt === DETACH_ATTEMPTS) return 'busy';
        await sleep(DETACH_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
  }

  /** Waits for every DROP started; the dropped ones are listed in the order they were started. */
  private async settleDrops(): Promise<unknown> {
    const { dropped, error } = await this.drops.settle();
    this.summary.partitionsDropped.push(...dropped);
    return error;
  }

  /** Copies a locked partition into the archive, page by page in (timestamp, id) order; returns how many entries. */
  private async archivePartition(trx: Db, partition: TimePartition, archive: ArchiveWriter, mask: (json: string) => string): Promise<number> {
    const pageSize = this.options.batchSize === 'auto' ? ARCHIVE_PAGE_SIZE : this.options.batchSize;
    let from: Position | undefined;
    let entries = 0;
    for (;;) {
      const page = await readJsonPage(trx, this.table.mapping, partitionRef(partition), from, pageSize);
      if (!page.end) return entries;
      await archive.append(page.json.map(mask));
      entries += page.json.length;
      from = page.end;
      this.progress.update(`Pruning ${this.name}: archiving ${partitionName(partition)}, ${entries.toLocaleString('en-US')} entries`);
    }
  }

  private masker(secrets: ResolvedConfig['secrets']): (json: string) => string {
    if (this.options.showSecrets) return (json) => json;
    const policy = createSecretPolicy(secrets);
    return (json) => maskEntryJson(json, policy);
  }

  private question(old: TimePartition[]): string {
    const { matched, cutoff, oldest } = this.summary;
    const partitions = old.length > 0 ? ` (${old.length} whole partitions ${this.options.detachOnly ? 'detached' : 'dropped'})` : '';
    return `Delete ${matched.toLocaleString('en-US')} entries from ${this.name} older than ${cutoff}${oldest ? `, the oldest from ${oldest}` : ''}${partitions}?`;
  }

  /**
   * Whether to stop before the next unit of work (a batch, a partition). A signal stops at once; the time limit only
   * after some work (`afterWork`), so that the unit that crosses it is the last one and a run always makes progress.
   */
  private shouldStop(afterWork: boolean): boolean {
    const limit = this.options.maxDurationMs;
    if (this.io.signal?.aborted) this.summary.stopped = 'interrupted';
    else if (afterWork && limit !== undefined && performance.now() - this.started >= limit) this.summary.stopped = 'max-duration';
    return this.summary.stopped !== undefined;
  }

  private report(): void {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(this.summary.deleted / seconds).toLocaleString('en-US') : '0';
    this.progress.update(
      `Pruning ${this.name}: ${this.summary.deleted.toLocaleString('en-US')} of ${this.summary.matched.toLocaleString('en-US')} entries deleted (${rate}/s)`,
    );
  }

  private finish(): PruneSummary {
    this.summary.durationMs = Math.round(performance.now() - this.started);
    return this.summary;
  }
}
