import type { CliIo } from '../../io.js';
import type { DryRunSummary, ExportSummary } from '../../domain.js';
import { InterruptedError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { withAuditTable, type AuditTable } from '../../db/session.js';
import type { OpenPool } from '../../db/pool.js';
import { withReadOnly } from '../../db/read-only.js';
import type { EntryFilters, LateCommitGuard } from '../../domain.js';
import { resolveResourceNames } from '../../queries/filters.js';
import { countExport, fetchExportRows, readOpenTransactions, streamExportRecords, type ExportQuery } from '../../queries/export.js';
import { createSecretPolicy, maskEntryJson, maskEntryBytes } from '../../secrets/policy.js';
import type { SinkOptions } from '../../sinks/index.js';
import { deliver, readCheckpoint, removeStaleTemps, writeCheckpoint, type CheckpointCoverage, type DeliveryStats } from '../../delivery/index.js';
import { decideExportBound } from '../../delivery/export-bound.js';
import { runCoverage } from '../../delivery/coverage.js';
import { readCheckpointSource } from '../../queries/checkpoint-source.js';
import { startProgress } from '../../output/progress.js';
import { countOf, formatCount } from '../../output/terminal-text.js';
import { RejectedEntries } from '../../delivery/rejects.js';
import { maskInvalidStatesInJson, mayHoldInvalidStates, reportInvalidStatesInText } from '../../output/invalid-states.js';
import { shownUrl } from './destination.js';
import { checkCheckpointId } from '../../queries/id-check.js';
import { estimateExport } from '../../queries/export-estimate.js';

export interface ExportOptions {
  filters: EntryFilters;
  sink: SinkOptions;
  concurrency: number;
  batchMaxEntries?: number;
  maxRetryMs: number;
  /** Absolute path of the checkpoint file, if any. */
  checkpoint?: string;
  /** Entries younger than this are left for the next run. */
  settleSeconds: number;
  dryRun: boolean;
  json: boolean;
  showSecrets: boolean;
  /** Absolute path of the --rejects file: entries too large for the destination, kept whole. */
  rejects?: string;
}


/** Ships the selected entries to the sink; returns what was delivered. Throws InterruptedError on SIGINT/SIGTERM. */
export async function exportEntries(table: AuditTable, options: ExportOptions, secrets: ResolvedConfig['secrets'], io: CliIo): Promise<ExportSummary> {
  const started = Date.now();
  // The sinks (undici above all) load while the statements before the COPY wait for the server.
  const sinks = import('../../sinks/index.js');
  sinks.catch(() => undefined);
  const { query, coverage, guard } = await startQuery(table, options, io);
  const policy = createSecretPolicy(secrets);
  const mask = options.showSecrets ? (bytes: string) => bytes : (bytes: string, statesFrom?: number, head?: { kept: boolean }) => maskEntryBytes(bytes, policy, statesFrom, head);
  const warn = (message: string) => io.stderr.write(`${message}\n`);
  // Masking then reads the text that reportInvalidStatesInText gives it, and finds where its states start.
  const transform = mayHoldInvalidStates(table.mapping)
    ? (bytes: string) => mask(reportInvalidStatesInText(bytes, 'sent', warn, options.showSecrets ? undefined : policy))
    : mask;
  const rejected = await RejectedEntries.open(options.rejects, warn);
  const { createSink } = await sinks;
  const sink = createSink(options.sink.kind === 'file' ? { ...options.sink, stdout: io.stdout } : { ...options.sink, oversize: rejected, warn });
  const progress = await startProgress(io, `Exporting to ${sink.name}`);
  // Alongside the COPY, never before it; without an estimate the line simply has no total.
  let estimate: number | undefined;
  if (io.stderrIsTty) void estimateExport(table.db, table.mapping, query).then((rows) => (estimate = rows), () => undefined);
  let stats: DeliveryStats = { exported: 0, batches: 0, retries: 0, duplicates: 0 };
  try {
    const result = await deliver({
      records: streamExportRecords(table.db, table.mapping, query, transform),
      sink,
      concurrency: options.concurrency,
      batchMaxEntries: options.batchMaxEntries,
      retry: { maxRetryMs: options.maxRetryMs },
      signal: io.signal,
      onCheckpoint: options.checkpoint && coverage ? (position) => writeCheckpoint(options.checkpoint as string, position, coverage) : undefined,
      onProgress: (current) => {
        stats = current;
        // Built only when shown: its first count format loads ICU data (about 40 ms of an export's CPU in a pipe).
        if (progress.visible) progress.update(`Exporting to ${sink.name}: ${describeProgress(current, started, estimate)}, ${countOf(current.retries, 'retry', 'retries')}`);
      },
      onRetry: (event) => progress.note(`retrying batch ${event.batch} in ${event.delayMs} ms: ${event.reason}`),
    });
    stats = result;
    if (result.interrupted) {
      const where = result.last ? `; checkpoint at ${result.last.timestamp} id ${result.last.id}` : '';
      throw new InterruptedError(`export interrupted after ${result.exported} entries${where}`);
    }
    return { ...summarize(sink.name, stats, options, started, query.before, guard), reduced: rejected.count };
  } finally {
    progress.stop();
    await sink.close();
    await rejected.close();
  }
}

/** What a run would send, without sending: count, first and last entries. */
export async function planExport(table: AuditTable, options: ExportOptions, secrets: ResolvedConfig['secrets'], io: CliIo): Promise<DryRunSummary> {
  const { query } = await startQuery(table, options, io);
  const policy = createSecretPolicy(secrets);
  // As the export sends it: a text state that is not JSON has its raw text masked by name first (prune does the same).
  const mask = mayHoldInvalidStates(table.mapping) ? (json: string) => maskEntryJson(maskInvalidStatesInJson(json, policy), policy) : (json: string) => maskEntryJson(json, policy);
  const entry = async (order: 'asc' | 'desc') => {
    const [row] = await fetchExportRows(table.db, table.mapping, query, 1, order);
    return row ? JSON.parse(options.showSecrets ? row.json : mask(row.json)) : null;
  };
  return {
    dry_run: true,
    destination: describeDestination(options.sink),
    would_export: await countExport(table.db, table.mapping, query),
    first: await entry('asc'),
    last: await entry('desc'),
    after: query.after ?? null,
    before: query.before,
    checkpoint: options.checkpoint ?? null,
  };
}

/**
 * `api7-audit export`: reads in READ ONLY transactions (the export's entries in one statement, one snapshot) and
 * prints a summary.
 */
export async function runExport(prepared: ExportOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  const result = await withAuditTable<ExportSummary | DryRunSummary>(
    config,
    async (table) => {
      const options = { ...prepared, filters: await resolveResourceNames(table.db, table.mapping, prepared.filters, (line) => io.stderr.write(`${line}\n`)) };
      return options.dryRun
        ? withReadOnly(table.db, (db) => planExport({ ...table, db }, options, config.secrets, io))
        : exportEntries(table, options, config.secrets, io);
    },
    { early, activity: 'export' },
  );
  if (prepared.json) io.stdout.write(`${JSON.stringify(result)}\n`);
  else io.stderr.write(`${formatSummary(result)}\n`);
}

/**
 * Reads the checkpoint (refusing one written with other filters or for another destination kind), then fixes the
 * run's upper bound from the open transactions; this must finish before the COPY starts (docs/decisions/
 * 001-late-commits.md). What the bound rests on is said on stderr and recorded with every checkpoint write.
 */
async function startQuery(table: AuditTable, options: ExportOptions, io: CliIo): Promise<{ query: ExportQuery; coverage?: CheckpointCoverage; guard: LateCommitGuard }> {
  const file = options.checkpoint;
  const previous = file ? await readCheckpoint(file) : undefined;
  if (file && previous) checkCheckpointId(table.mapping, previous.position.id, `checkpoint file ${file}`);
  // Fails early on another stream's checkpoint; the guard is recomputed below once the bound is known.
  const source = file ? await readCheckpointSource(table.db, table.mapping) : undefined;
  if (file) runCoverage(file, previous, options.filters, options.sink.kind, 'open-transactions', source);
  if (file && !options.dryRun) await removeStaleTemps(file);
  const facts = await readOpenTransactions(table.db, table.mapping, options.settleSeconds);
  const bound = decideExportBound(facts, previous?.position, file !== undefined);
  for (const message of bound.messages) io.stderr.write(`${message}\n`);
  const coverage = file ? runCoverage(file, previous, options.filters, options.sink.kind, bound.guard, source) : undefined;
  return { query: { filters: options.filters, after: previous?.position, before: bound.before }, coverage, guard: bound.guard };
}

function summarize(destination: string, stats: DeliveryStats, options: ExportOptions, started: number, before: string, guard: LateCommitGuard): Omit<ExportSummary, 'reduced'> {
  return {
    destination,
    exported: stats.exported,
    batches: stats.batches,
    retries: stats.retries,
    duplicates: stats.duplicates,
    first: stats.first ?? null,
    last: stats.last ?? null,
    checkpoint: options.checkpoint ?? null,
    before,
    late_commit_guard: guard,
    duration_ms: Date.now() - started,
  };
}

/** "12,345 of ~300,000 entries sent (4,567/s), ETA 1m05s"; the total only while the planner's estimate still holds. */
function describeProgress(current: DeliveryStats, started: number, estimate: number | undefined): string {
  const rate = Math.round(current.exported / Math.max(0.001, (Date.now() - started) / 1000));
  const total = estimate === undefined ? 0 : Number(estimate.toPrecision(2));
  if (total <= current.exported) return `${countOf(current.exported, 'entry', 'entries')} sent (${formatCount(rate)}/s)`;
  const eta = rate > 0 ? `, ETA ${formatEta((total - current.exported) / rate)}` : '';
  return `${formatCount(current.exported)} of ~${formatCount(total)} entries sent (${formatCount(rate)}/s)${eta}`;
}

/** `42s`, `1m05s`, `2h07m`: like a clock, to the second only while it is under an hour. */
function formatEta(seconds: number): string {
  const s = Math.ceil(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

function describeDestination(sink: SinkOptions): string {
  if (sink.kind === 'file') return sink.path === '-' ? 'stdout' : sink.path;
  if (sink.kind === 'datadog' && sink.url === undefined) return `Datadog ${sink.site ?? 'datadoghq.com'}`;
  // Every sink's URL (Datadog's too) without its user info, and a credential in its query (`?dd-api-key=`) masked.
  return shownUrl((sink.url ?? '').replace(/\/\/[^@/]*@/, '//***@'));
}

/** The first and last entry a dry run would send, as `--help` promises; nothing when none would go. */
function describeEnds(result: DryRunSummary): string {
  const at = (entry: unknown) => {
    const { id, timestamp } = entry as { id: string; timestamp: string };
    return `id ${id} at ${timestamp}`;
  };
  return result.first && result.last ? `; first ${at(result.first)}, last ${at(result.last)}` : '';
}

function formatSummary(result: ExportSummary | DryRunSummary): string {
  if ('dry_run' in result) {
    return `Dry run: nothing sent. ${countOf(result.would_export, 'entry', 'entries')} would be exported to ${result.destination} (before ${result.before}${result.after ? `, after ${result.after.timestamp} id ${result.after.id}` : ''})${describeEnds(result)}`;
  }
  const seconds = result.duration_ms / 1000;
  const rate = Math.round(result.exported / Math.max(seconds, 0.001));
  const parts = [
    `exported ${countOf(result.exported, 'entry', 'entries')} to ${result.destination} in ${seconds.toFixed(1)} s (${formatCount(rate)}/s)`,
    countOf(result.batches, 'batch', 'batches'),
    countOf(result.retries, 'retry', 'retries'),
    countOf(result.duplicates, 'duplicate'),
  ];
  if (result.reduced > 0) parts.push(`${formatCount(result.reduced)} sent reduced (too large for the destination)`);
  if (result.checkpoint && result.last) parts.push(`checkpoint ${result.last.timestamp} id ${result.last.id}`);
  return parts.join(', ');
}
