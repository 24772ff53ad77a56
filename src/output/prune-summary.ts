import type { PruneSummary } from '../domain.js';
import { countOf, formatCount } from './terminal-text.js';

const SOURCES: Record<PruneSummary['retentionSource'], string> = {
  flag: '--retention-days',
  'cp-config': 'audit.retention_days in the control plane config',
  config: 'retention_days in the config file',
  default: 'default',
};

/** The `--json` summary: one object, snake_case keys, stable order; `archive` is the file path or null. */
export function pruneSummaryJson(summary: PruneSummary): Record<string, unknown> {
  return {
    table: summary.table,
    dry_run: summary.dryRun,
    cutoff: summary.cutoff,
    retention_days: summary.retentionDays,
    retention_source: summary.retentionSource,
    matched: summary.matched,
    oldest: summary.oldest ?? null,
    newest: summary.newest ?? null,
    deleted: summary.deleted,
    batches: summary.batches,
    partitions_dropped: summary.partitionsDropped.length,
    partitions_detached: summary.partitionsDetached.length,
    partitions: summary.partitions,
    duration_ms: summary.durationMs,
    slowest_batch_ms: summary.slowestBatchMs,
    archive: summary.archive?.path ?? null,
    archived: summary.archive?.entries ?? 0,
    complete: summary.stopped === undefined,
    stopped: summary.stopped ?? null,
    only_exported: summary.onlyExported ?? null,
  };
}


/** A few lines for people and cron mail. */
export function formatPruneSummary(summary: PruneSummary): string {
  const lines = [`Cutoff: ${summary.cutoff} (${summary.retentionDays} days before now by the database clock; ${SOURCES[summary.retentionSource]})`];
  if (summary.onlyExported) {
    lines.push(`Bound: nothing after the export checkpoint ${summary.onlyExported.timestamp} id ${summary.onlyExported.id}`);
  }
  const range = summary.oldest ? `, oldest ${summary.oldest}, newest ${summary.newest ?? summary.oldest}` : '';
  if (summary.dryRun) {
    lines.push(`Dry run: nothing deleted. ${countOf(summary.matched, 'entry', 'entries')} in ${summary.table} would be deleted${range}.`);
    if (summary.partitions.length > 0) lines.push(`Partitions wholly before the cutoff, to be dropped whole: ${summary.partitions.join(', ')}`);
    return `${lines.join('\n')}\n`;
  }
  const seconds = summary.durationMs / 1000;
  const rate = seconds > 0 ? `, ${formatCount(Math.round(summary.deleted / seconds))}/s` : '';
  lines.push(
    `Deleted ${formatCount(summary.deleted)} of ${countOf(summary.matched, 'entry', 'entries')} before the cutoff from ${summary.table}` +
      ` in ${countOf(summary.batches, 'batch', 'batches')} (${seconds.toFixed(1)} s${rate}; slowest batch ${formatCount(summary.slowestBatchMs)} ms).`,
  );
  if (summary.partitionsDropped.length > 0) lines.push(`Dropped partitions: ${summary.partitionsDropped.join(', ')}`);
  if (summary.partitionsDetached.length > 0) lines.push(`Detached partitions, kept as tables: ${summary.partitionsDetached.join(', ')}`);
  if (summary.archive) lines.push(`Archived ${countOf(summary.archive.entries, 'entry', 'entries')} to ${summary.archive.path}`);
  if (summary.stopped === 'interrupted') lines.push('Interrupted after a committed batch: the rest is intact; run again to continue.');
  if (summary.stopped === 'max-duration') lines.push('Stopped at --max-duration after a committed batch: the rest is intact; the next run continues.');
  if (summary.stopped === 'connection-lost') {
    lines.push('Lost the connection to PostgreSQL: the batches counted are committed, the one in flight may be too; the rest is intact, run again to continue.');
  }
  if (summary.stopped === 'archive-failed') {
    lines.push('Stopped: the archive could not take the next batch, which was rolled back; every entry deleted is in the archive, the rest is intact.');
  }
  if (summary.stopped === 'entries-kept') {
    lines.push('Stopped: entries older than the cutoff are still in the table after a pass that deleted none of them: the table keeps them.');
  }
  if (summary.stopped === 'entries-remain') {
    lines.push('Entries older than the cutoff were still being inserted behind the prune after its last pass: they are intact; the next run deletes them.');
  }
  return `${lines.join('\n')}\n`;
}
