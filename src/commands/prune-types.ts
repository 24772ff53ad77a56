import type { Position } from '../entry.js';

/** Where the retention came from, named in the summary so a surprising cutoff can be traced. */
export type RetentionSource = 'flag' | 'cp-config' | 'config' | 'default';

export interface PruneOptions {
  retention: { days: number; source: RetentionSource };
  /** A fixed cutoff (ISO 8601 with microseconds) instead of `now() - retention` by the database clock: for tests. */
  cutoff?: string;
  dryRun: boolean;
  /** Rows per DELETE, or 'auto': each batch sized from the last one's speed to a time budget. */
  batchSize: number | 'auto';
  /** Stop after the batch that crosses this many milliseconds. */
  maxDurationMs?: number;
  /** Absolute path of the NDJSON (or .gz) archive of deleted entries. */
  archive?: string;
  /** Detach wholly-old partitions but keep them as tables. */
  detachOnly: boolean;
  /** Do not ask for confirmation on a terminal. */
  yes: boolean;
  output: 'text' | 'json';
  /** Archive secret values as they are instead of "******". */
  showSecrets: boolean;
  /** An export checkpoint: nothing after this position is deleted, so the SIEM has every entry that goes. */
  onlyExported?: Position;
  /** While another prune holds the table's lock, try again for this many milliseconds (--wait-lock); else exit 3. */
  waitLockMs?: number;
}

/**
 * Why a prune stopped before it was done: a signal or --max-duration (after a committed batch); its connection to
 * PostgreSQL was lost (the batch in flight may or may not have committed); or entries older than the cutoff were
 * still being inserted behind its position after its last pass over the range.
 */
export type PruneStop = 'interrupted' | 'max-duration' | 'connection-lost' | 'entries-remain';

/** What a prune did (or, with --dry-run, would do). */
export interface PruneSummary {
  table: string;
  dryRun: boolean;
  /** Entries strictly before this were pruned; ISO 8601 UTC with microseconds, frozen at the start. */
  cutoff: string;
  retentionDays: number;
  retentionSource: RetentionSource;
  /** Entries before the cutoff when the run started. */
  matched: number;
  oldest?: string;
  newest?: string;
  /** Entries removed from the audit table: row by row, or in dropped or detached partitions. */
  deleted: number;
  /** DELETE transactions that removed at least one row. */
  batches: number;
  /** Partitions wholly before the cutoff (with --dry-run, those that would be dropped or detached). */
  partitions: string[];
  partitionsDropped: string[];
  partitionsDetached: string[];
  durationMs: number;
  /** Longest DELETE transaction, from BEGIN to COMMIT as the client saw it. */
  slowestBatchMs: number;
  archive?: { path: string; entries: number };
  stopped?: PruneStop;
  /** The export checkpoint that bounded the prune (--only-exported). */
  onlyExported?: Position;
}

/** The summary of a prune that has done nothing yet. */
export function emptySummary(table: string, options: PruneOptions): PruneSummary {
  return {
    table,
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
