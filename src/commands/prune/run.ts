import type { CliIo } from '../io.js';
import type { Position, PruneSummary } from '../domain.js';
import { ConnectionLostError, InterruptedError, RuntimeError } from '../errors.js';
import type { ResolvedConfig } from '../config/resolve-config.js';
import type { Db } from '../db/connect.js';
import { releaseAdvisoryLock } from '../db/advisory-lock.js';
import { formatTableName } from '../db/identifiers.js';
import { withReadOnlySession } from '../db/read-only.js';
import { checkCheckpointId } from '../queries/id-check.js';
import { withAuditTable, type AuditTable } from '../db/session.js';
import { findDetachedLeftovers, listTimePartitions, partitionName, type TimePartition } from '../queries/partitions.js';
import { anyEntryLeft } from '../queries/prune-remaining.js';
import { computeCutoff, deleteBatch, matchEntries, resetPruneSession, setPruneSession, type PruneBound } from '../queries/prune.js';
import { openArchive, type ArchiveWriter } from '../output/archive-writer.js';
import { checkWritableDirectory } from '../output/private-file.js';
import { createSecretPolicy, maskEntryJson } from '../output/secrets.js';
import { mayHoldInvalidStates, maskInvalidStatesInJson } from '../output/invalid-states.js';
import { formatPruneSummary, pruneSummaryJson } from '../output/prune-summary.js';
import { ADAPTIVE_BATCHES, nextBatchSize } from './prune-batch-size.js';
import { BackgroundDrops } from './prune-drops.js';
import { confirm, isInteractive } from './prune-interaction.js';
import { acquireLock, pruneLockName } from './prune-lock.js';
import { detachOldPartition } from './prune-partitions.js';
import { silentProgress, startProgress, type Progress } from '../output/progress.js';
import { emptySummary, type PruneOptions } from './prune-types.js';
import { earlierInstant } from '../config/instant.js';

export type { PruneOptions } from './prune-types.js';
export { pruneLockName } from './prune-lock.js';

/** Passes over the range before a prune stops reporting complete while back-dated entries keep arriving. */
const MAX_PASSES = 3;

/**
 * `api7-audit prune`: deletes entries older than the retention, then prints the summary. Interrupted runs print
 * their summary too, then exit 130; the next run continues where this one stopped.
 */
export async function runPrune(options: PruneOptions, config: ResolvedConfig, io: CliIo): Promise<PruneSummary> {
  // A path that cannot be written fails before the prompt, the lock and any DELETE.
  if (options.archive !== undefined && !options.dryRun) await checkWritableDirectory(options.archive, '--archive');
  const started: StartedPrune = {};
  let summary: PruneSummary;
  try {
    summary = await withAuditTable(config, (table) => pruneTable(table, options, config.secrets, io, started), { activity: 'prune' });
  } catch (error) {
    // The batches committed before the connection went stay deleted: say how many, then report the loss.
    if (error instanceof ConnectionLostError && started.summary) printSummary({ ...started.summary, stopped: 'connection-lost' }, options, io);
    throw error;
  }
  printSummary(summary, options, io);
  if (summary.stopped === 'interrupted') {
    throw new InterruptedError(`interrupted: deleted ${summary.deleted} of ${summary.matched} entries; the rest is intact, run again to continue`);
  }
  return summary;
}

function printSummary(summary: PruneSummary, options: PruneOptions, io: CliIo): void {
  io.stdout.write(options.output === 'json' ? `${JSON.stringify(pruneSummaryJson(summary))}\n` : formatPruneSummary(summary));
}

/** The running totals of a prune that has started deleting, for the caller to report if the run fails. */
export interface StartedPrune {
  summary?: PruneSummary;
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
    await acquireLock(conn, name, options.waitLockMs, io.signal);
    try {
      return await runOn(conn);
    } finally {
      // Best effort: when the connection is gone, so is the lock.
      await releaseAdvisoryLock(conn, pruneLockName(name)).catch(() => undefined);
    }
  });
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
    private readonly partial: StartedPrune,
  ) {
    this.name = formatTableName(table.mapping.table);
    this.progress = silentProgress(io);
    this.drops = new BackgroundDrops(table.db);
    this.summary = emptySummary(this.name, options);
  }

  async execute(secrets: ResolvedConfig['secrets']): Promise<PruneSummary> {
    try {
      return await this.run(secrets);
    } catch (error) {
      this.finish();
      throw error;
    }
  }

  private async run(secrets: ResolvedConfig['secrets']): Promise<PruneSummary> {
    const { mapping } = this.table;
    const cutoff = this.options.cutoff ?? (await computeCutoff(this.conn, this.options.retention.days));
    this.summary.cutoff = cutoff;
    const exported = this.options.onlyExported;
    if (exported) checkCheckpointId(mapping, exported.id, 'the --only-exported checkpoint');
    const bound: PruneBound = { before: cutoff, upTo: exported };
    this.summary.onlyExported = exported;
    // A partition may go whole only if every row in it is before the cutoff and already exported: its upper bound
    // must not pass the earlier of the two (rows at a timestamp before the checkpoint's are at or before it).
    const partitionLimit = exported ? earlierInstant(exported.timestamp, cutoff) : cutoff;
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
    this.partial.summary = this.summary;
    const mask = this.masker(secrets);
    const archive = this.options.archive === undefined ? undefined : await openArchive(this.options.archive, (message) => void this.io.stderr.write(`${message}\n`));
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
    for (let pass = 1; ; pass += 1) {
      if (!(await this.deletePass(bound, archive, mask))) return;
      // An entry inserted back-dated behind the position while the pass ran is still there: look, and go over again.
      if (!(await anyEntryLeft(this.conn, this.table.mapping, bound))) return;
      if (pass === MAX_PASSES) {
        this.summary.stopped = 'entries-remain';
        return;
      }
    }
  }

  /** One pass over the range in (timestamp, id) order; false when stopped (a signal, --max-duration) before its end. */
  private async deletePass(bound: PruneBound, archive: ArchiveWriter | undefined, mask: (json: string) => string): Promise<boolean> {
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
      if (!batch.end) return true;
      from = batch.end;
      const ms = performance.now() - began;
      this.summary.slowestBatchMs = Math.max(this.summary.slowestBatchMs, Math.round(ms));
      if (fixed === undefined) size = nextBatchSize(ADAPTIVE_BATCHES, size, ms);
      if (batch.deleted > 0) this.summary.batches += 1;
      this.summary.deleted += batch.deleted;
      this.report();
      if (this.shouldStop(true)) return false;
    }
  }

  /** Detaches (and starts dropping) one partition wholly before the cutoff; see detachOldPartition. */
  private async dropPartition(
    partition: TimePartition,
    archive: ArchiveWriter | undefined,
    mask: (json: string) => string,
  ): Promise<'busy' | 'forbidden' | undefined> {
    const keep = this.options.detachOnly;
    const outcome = await detachOldPartition(this.conn, this.table.mapping, partition, {
      keep,
      archive: archive && !keep ? archive : undefined,
      mask,
      pageSize: this.options.batchSize === 'auto' ? undefined : this.options.batchSize,
      onArchived: (entries) =>
        this.progress.update(`Pruning ${this.name}: archiving ${partitionName(partition)}, ${entries.toLocaleString('en-US')} entries`),
    });
    if (typeof outcome !== 'number') return outcome;
    this.summary.deleted += outcome;
    if (keep) this.summary.partitionsDetached.push(partitionName(partition));
    else this.drops.start(partition);
    this.report();
    return undefined;
  }

  /** Waits for every DROP started; the dropped ones are listed in the order they were started. */
  private async settleDrops(): Promise<unknown> {
    const { dropped, error } = await this.drops.settle();
    this.summary.partitionsDropped.push(...dropped);
    return error;
  }

  private masker(secrets: ResolvedConfig['secrets']): (json: string) => string {
    if (this.options.showSecrets) return (json) => json;
    const policy = createSecretPolicy(secrets);
    // A text state that is not JSON is a string to maskEntryJson: its raw text is masked first, by name.
    if (mayHoldInvalidStates(this.table.mapping)) return (json) => maskEntryJson(maskInvalidStatesInJson(json, policy), policy);
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
