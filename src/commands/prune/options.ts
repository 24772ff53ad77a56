import type { Position, PruneSummary, RetentionSource } from '../../domain.js';
import type { ExportedPosition } from './only-exported.js';
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
  onlyExported?: ExportedPosition;
  /** While another prune holds the table's lock, try again for this many milliseconds (--wait-lock); else exit 3. */
  waitLockMs?: number;
  /** --seal-store: writes the signed "pruned up to" record before the first DELETE (seal/prune-record.ts). */
  recordPrune?: (cutoff: string, table: string, upTo?: Position) => Promise<void>;
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
