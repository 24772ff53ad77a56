import type { CliIo } from '../../io.js';
import type { PruneSummary } from '../../domain.js';
import { DeclinedError, InterruptedError, RuntimeError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import type { Db } from '../../db/connect.js';
import type { EntryArchive } from '../../db/archive-first.js';
import { formatTableName } from '../../db/identifiers.js';
import type { AuditTable } from '../../db/session.js';
import { findDetachedLeftovers, partitionName, type TimePartition } from '../../queries/partitions.js';
import { findDeleteObstacle } from '../../queries/prune-deletable.js';
import { findPruneThroughView } from '../../queries/prune-view.js';
import { openArchive } from '../../output/archive-writer.js';
import { confirm, isInteractive } from '../../output/prompt.js';
import { silentProgress, startProgress, type Progress } from '../../output/progress.js';
import { deleteInBatches } from './batches.js';
import { BackgroundDrops, detachOldPartition, DropBlockedError } from './partitions.js';
import { maskArchive } from './masked-archive.js';
import { planPrune, type PrunePlan } from './plan.js';
import { emptySummary, type PruneOptions } from './options.js';
import { describeObstacle, describeView } from './obstacles.js';

/** The running totals of a prune that has started deleting, for the caller to report if the run fails. */
export interface StartedPrune {
  summary?: PruneSummary;
}

/** One prune, step by step; its fields are the running totals that become the summary. */
export class PruneRun {
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
    const plan = await planPrune(this.conn, mapping, this.options);
    const old = plan.partitions;
    Object.assign(this.summary, {
      cutoff: plan.cutoff,
      onlyExported: plan.bound.upTo,
      matched: plan.matched,
      oldest: plan.oldest,
      newest: plan.newest,
      partitions: old.map(partitionName),
    });
    const obstacle = plan.matched > 0 ? await findDeleteObstacle(this.conn, mapping, !this.options.dryRun) : undefined;
    if (obstacle) {
      const why = describeObstacle(obstacle, this.name);
      if (!this.options.dryRun) throw new RuntimeError(`${why}; nothing was deleted`);
      this.io.stderr.write(`warning: ${why}; the real run would exit 1 without deleting\n`);
    }
    const view = this.options.dryRun ? await findPruneThroughView(this.conn, mapping) : undefined;
    if (view) this.io.stderr.write(`warning: ${describeView(view, this.name)}; the real run would exit 2\n`);
    if (this.options.dryRun) return this.finish();
    const leftovers = await findDetachedLeftovers(this.conn, mapping);
    if (plan.matched === 0 && old.length === 0 && leftovers.length === 0) return this.finish();
    if (this.shouldStop(false)) return this.finish();
    if (!this.options.yes && isInteractive(this.io)) {
      const asked = performance.now();
      if (!(await confirm(this.io, this.question(old)))) throw new DeclinedError('Nothing deleted: the prompt was declined.');
      // Time spent reading the question counts neither toward --max-duration nor the rate.
      this.started += performance.now() - asked;
    }
    this.partial.summary = this.summary;
    // The archive is checked (and may be refused) before the seal store records a prune that would then not happen.
    // Its lock keeps a prune of another table (or database) given the same file out until this one closes it.
    const archive = this.options.archive === undefined ? undefined : await openArchive(this.options.archive, (message) => void this.io.stderr.write(`${message}\n`), {
      table: this.name,
      waitMs: this.options.waitLockMs,
      signal: this.io.signal,
    });
    await this.options.recordPrune?.(plan.cutoff, this.name, plan.bound.upTo).catch(async (error: unknown) => {
      await archive?.close();
      throw error;
    });
    const masked = archive && (this.options.showSecrets ? archive : maskArchive(archive, this.table.mapping, secrets));
    if (archive) this.summary.archive = { path: archive.path, entries: 0 };
    this.progress = await startProgress(this.io, `Pruning ${this.name}: entries before ${plan.cutoff}`);
    try {
      // Partitions that an earlier run detached but was stopped before dropping (they are marked for it).
      for (const leftover of leftovers) this.drops.start(leftover);
      let stop = this.shouldStop(false);
      for (const [index, partition] of old.entries()) {
        if (stop) break;
        const failed = await this.dropPartition(partition, masked);
        if (failed) {
          // The rest would fare no better: the parent stays locked, or the role stays what it is.
          const left = old.slice(index).map(partitionName).join(', ');
          const why = failed === 'busy' ? `could not lock ${this.name}` : `not allowed (DETACH needs the owner of ${this.name})`;
          this.progress.note(`warning: ${why} to detach ${left}; deleting their rows instead`);
          break;
        }
        stop = this.shouldStop(true);
      }
      if (!stop) await this.deleteRows(plan, masked);
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

  /** Deletes what is left before the cutoff, batch by batch (batches.ts), counting as it goes. */
  private async deleteRows(plan: PrunePlan, archive: EntryArchive | undefined): Promise<void> {
    const outcome = await deleteInBatches(this.conn, this.table.mapping, plan.bound, {
      batchSize: this.options.batchSize,
      archive,
      afterBatch: (batch, ms) => {
        this.summary.slowestBatchMs = Math.max(this.summary.slowestBatchMs, Math.round(ms));
        if (batch.deleted > 0) this.summary.batches += 1;
        this.summary.deleted += batch.deleted;
        this.report();
        return this.shouldStop(true);
      },
    });
    if (outcome === 'entries-remain' || outcome === 'entries-kept') this.summary.stopped = outcome;
  }

  /** Detaches (and starts dropping) one partition wholly before the cutoff; see detachOldPartition. */
  private async dropPartition(partition: TimePartition, archive: EntryArchive | undefined): Promise<'busy' | 'forbidden' | undefined> {
    const keep = this.options.detachOnly;
    const outcome = await detachOldPartition(this.conn, this.table.mapping, partition, {
      keep,
      archive: archive && !keep ? archive : undefined,
      pageSize: this.options.batchSize === 'auto' ? undefined : this.options.batchSize,
      onArchived: (entries) =>
        this.progress.update(`Pruning ${this.name}: archiving ${partitionName(partition)}, ${entries.toLocaleString('en-US')} entries`),
      signal: this.io.signal,
    }).catch((error: unknown) => {
      // Ctrl-C while a partition was copied out or waited for: it stays attached and whole; the run stops there.
      if (error instanceof InterruptedError && this.shouldStop(false)) return 'interrupted' as const;
      throw error;
    });
    if (outcome === 'interrupted') return undefined;
    if (typeof outcome !== 'number') return outcome;
    this.summary.deleted += outcome;
    if (keep) this.summary.partitionsDetached.push(partitionName(partition));
    else this.drops.start(partition);
    this.report();
    return undefined;
  }

  /**
   * Waits for every DROP started; the dropped ones are listed in the order they were started, those that objects
   * depend on as detached (a {@link DropBlockedError} when no other failure comes first).
   */
  private async settleDrops(): Promise<unknown> {
    const { dropped, blocked, error } = await this.drops.settle();
    this.summary.partitionsDropped.push(...dropped);
    this.summary.partitionsDetached.push(...blocked.map((drop) => drop.name));
    return error ?? (blocked.length > 0 ? new DropBlockedError(this.name, blocked) : undefined);
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
