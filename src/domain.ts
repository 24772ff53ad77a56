/**
 * The types every layer shares, in one place: the canonical entry and its position, the time bounds and filters a
 * command selects with, the record a sink ships, and the summaries commands return. Types only (and their constant
 * lists): nothing here imports another module of the tool.
 */

/**
 * The canonical audit entry: every table layout is mapped onto this shape, and JSON output uses exactly these
 * names. `id` is a string so that bigint ids survive JSON; `timestamp` is ISO 8601 in UTC with microseconds, so a
 * value printed by one command can be fed back (as a cursor or filter) without losing precision.
 */
export interface AuditEntry {
  id: string;
  timestamp: string;
  operator: string | null;
  operation: string | null;
  resource_type: string | null;
  resource_id: string | null;
  resource_name: string | null;
  source_ip: string | null;
  source: string | null;
  before: unknown;
  after: unknown;
}

export type CanonicalField = keyof AuditEntry;

/** Canonical field names in output order (JSON keys, CSV header). */
export const CANONICAL_FIELDS: readonly CanonicalField[] = [
  'id',
  'timestamp',
  'operator',
  'operation',
  'resource_type',
  'resource_id',
  'resource_name',
  'source_ip',
  'source',
  'before',
  'after',
];

/** Fields a custom mapping may leave out; the others must name a column. */
export const OPTIONAL_FIELDS: ReadonlySet<CanonicalField> = new Set<CanonicalField>([
  'resource_name',
  'source_ip',
  'source',
  'before',
  'after',
]);

/** A place in (timestamp, id) order: the keyset for pagination, export checkpoints and prune bounds. */
export interface Position {
  /** ISO 8601 UTC with microseconds, exactly as the entry's `timestamp`. */
  timestamp: string;
  id: string;
}

/**
 * A point in time given on the command line. Relative bounds are resolved by the database clock (`now() - interval`)
 * so that a client with a skewed clock still selects the right rows.
 */
export type TimeBound = { kind: 'relative'; interval: string } | { kind: 'absolute'; iso: string };

/** A resource filter: `route` or `route:abc123`. */
export interface ResourceFilter {
  type: string;
  id?: string;
  /** The ids `id` stands for as a name, when no entry has it as an id (set by resolveResourceNames, never by flags). */
  ids?: string[];
}

/** The filters shared by list and export. Values given twice are alternatives; different filters must all hold. */
export interface EntryFilters {
  since?: TimeBound;
  until?: TimeBound;
  operators: string[];
  operations: string[];
  resources: ResourceFilter[];
  ips: string[];
  sources: string[];
}

/** Indexed fields copied out of the entry so that sinks can label it without parsing `json`. */
export interface ExportFields {
  operator: string | null;
  operation: string | null;
  resource_type: string | null;
  resource_id: string | null;
  source_ip: string | null;
  source: string | null;
}

/** One entry ready to ship. */
export interface ExportRecord {
  /** Entry id, as a string so that bigint ids survive. */
  id: string;
  /** ISO 8601 UTC with microseconds, e.g. `2026-11-25T18:54:49.014123Z`; with `id`, the checkpoint position. */
  timestamp: string;
  /** Epoch milliseconds of `timestamp` (HEC `time`, Datadog `timestamp`). */
  timeMs: number;
  /**
   * The canonical entry as JSON text (an object), secrets already masked, as a byte string (src/byte-string.ts): its
   * UTF-8 bytes one per character. Shipped verbatim, copied into a body with `latin1` encoding.
   */
  jsonBytes: string;
  /** The same text decoded, for a sink that has to look into it. */
  json: string;
  fields: ExportFields;
  /**
   * The same fields as JSON text, a quoted string or `null`, exactly as in `jsonBytes` and byte strings like it: what
   * a sink writing JSON copies.
   */
  fieldsJson: ExportFieldsJson;
  /** Where the head's tokens lie in `jsonBytes` (src/entry-head.ts), from `headBase` on, if they were read already. */
  headBounds?: Int32Array;
  headBase?: number;
}

export type ExportFieldsJson = Readonly<Record<keyof ExportFields, string>>;

/** What kept late-committing transactions from being skipped by an export run (src/delivery/export-bound.ts). */
export type LateCommitGuard = 'open-transactions' | 'settle' | 'unknown';

/** Where the retention came from, named in the summary so a surprising cutoff can be traced. */
export type RetentionSource = 'flag' | 'cp-config' | 'config' | 'default';

/**
 * Why a prune stopped before it was done: a signal or --max-duration (after a committed batch); its connection to
 * PostgreSQL was lost (the batch in flight may or may not have committed); or entries older than the cutoff were
 * still being inserted behind its position after its last pass over the range; or the --archive file could not take a
 * batch (a full disk, the file removed), which then rolled back; or the table keeps entries its DELETE removes none
 * of (a trigger, a row security policy).
 */
export type PruneStop = 'interrupted' | 'max-duration' | 'connection-lost' | 'entries-remain' | 'archive-failed' | 'entries-kept';

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

/** What an export run delivered. */
export interface ExportSummary {
  destination: string;
  exported: number;
  batches: number;
  retries: number;
  duplicates: number;
  /** Entries too large for the destination, sent reduced (src/sinks/oversize.ts) and kept whole in --rejects. */
  reduced: number;
  first: Position | null;
  last: Position | null;
  checkpoint: string | null;
  /** The run's upper bound, and what kept late-committing transactions from being skipped (see export-bound.ts). */
  before: string;
  late_commit_guard: LateCommitGuard;
  duration_ms: number;
}

export interface DryRunSummary {
  dry_run: true;
  destination: string;
  would_export: number;
  first: unknown;
  last: unknown;
  after: Position | null;
  before: string;
  checkpoint: string | null;
}

/** The key of the marker that stands for a state column's text that is not valid JSON: {"$api7_audit":"invalid_json","raw":...}. */
export const INVALID_JSON_KEY = '$api7_audit';
