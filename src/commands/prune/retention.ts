import { resolve } from 'node:path';
import type { Position } from '../domain.js';
import { readCheckpoint } from '../delivery/checkpoint.js';
import { formatFilters } from './export-coverage.js';
import { UsageError } from '../errors.js';
import { parsePositiveInt } from '../config/parse-flags.js';
import { parseSpanMs } from '../config/time-bound.js';
import { MAX_RETENTION_DAYS, readControlPlaneRetention } from '../config/cp-config.js';
import type { RetentionSource } from '../domain.js';
import type { PruneOptions } from './prune.js';
import type { PruneFlags } from './prune/command.js';

/** What the flags are resolved against: the working directory and api7-audit's own config file. */
export interface PruneFlagContext {
  cwd: string;
  /** `retention_days` from api7-audit.yaml, already validated by the config loader. */
  configRetentionDays?: number;
}

/** The control plane's own default for `audit.retention_days`. */
export const DEFAULT_RETENTION_DAYS = 60;

/**
 * Rows per DELETE when `--batch-size` is not given: sized batch by batch to a time budget (prune-batch-size.ts), so
 * that no statement comes near 250 ms on a slow or busy server, nor wastes round trips on a fast one. A number given
 * with `--batch-size` is used for every batch as it is.
 */
export const DEFAULT_BATCH_SIZE = 'auto';
export const MAX_BATCH_SIZE = 100_000;

/** Turns commander's raw flags into typed prune options; every bad value is a UsageError naming it. */
export async function parsePruneFlags(flags: PruneFlags, context: PruneFlagContext): Promise<PruneOptions> {
  const batchSize = flags.batchSize === undefined ? DEFAULT_BATCH_SIZE : parsePositiveInt('--batch-size', flags.batchSize, MAX_BATCH_SIZE);
  const maxDurationMs = flags.maxDuration === undefined ? undefined : parseSpanMs('--max-duration', flags.maxDuration);
  const waitLockMs = flags.waitLock === undefined ? undefined : parseSpanMs('--wait-lock', flags.waitLock);
  const retention = await resolveRetention(flags, context);
  return {
    retention,
    dryRun: flags.dryRun === true,
    batchSize,
    maxDurationMs,
    waitLockMs,
    archive: flags.archive === undefined ? undefined : parseArchivePath(flags.archive, context.cwd),
    detachOnly: flags.detachOnly === true,
    yes: flags.yes === true,
    output: flags.json ? 'json' : 'text',
    showSecrets: flags.showSecrets === true,
    onlyExported: flags.onlyExported === undefined ? undefined : await readExportedPosition(resolve(context.cwd, flags.onlyExported)),
  };
}

/**
 * `--only-exported CHECKPOINT`: the position an export run recorded, if that checkpoint proves that every entry up
 * to it was sent: written by exports of every entry (no filters) that each saw the open transactions, so no entry
 * committed late behind it (docs/decisions/001-late-commits.md). Anything else is refused rather than trusted: a
 * missing file, a version-1 file (which records neither), a filtered export, a run that had only --settle.
 */
export async function readExportedPosition(file: string): Promise<Position> {
  const checkpoint = await readCheckpoint(file);
  const refuse = (why: string) => new UsageError(`refusing --only-exported '${file}': ${why}`);
  const fresh = 'run one export of every entry (no filters) with a new --checkpoint file, then prune with that file';
  if (!checkpoint) throw refuse('no such checkpoint file (run export with --checkpoint first)');
  const coverage = checkpoint.coverage;
  if (checkpoint.version === 1 || !coverage) throw refuse(`a version-1 checkpoint does not record what its exports covered; ${fresh}`);
  if (Object.keys(coverage.filters).length > 0) {
    throw refuse(`it was written by a filtered export (${formatFilters(coverage.filters)}), so entries before its position may never have been sent; ${fresh}`);
  }
  if (coverage.guard !== 'open-transactions') {
    const why = coverage.guard === 'settle'
      ? 'an export that wrote it could see only the --settle window, not the open transactions (role without pg_read_all_stats, or a standby), so an entry committed late may be behind it unsent'
      : 'it was upgraded from a version-1 file, whose exports did not guard against late commits';
    throw refuse(`${why}; ${fresh}`);
  }
  return checkpoint.position;
}

/**
 * Retention in days: `--retention-days`, else `audit.retention_days` in the control plane's conf.yaml
 * (`--cp-config`), else `retention_days` in api7-audit.yaml, else 60. A conf.yaml given but unreadable is an error
 * even when `--retention-days` wins, so a typo in a cron line is noticed the first night.
 */
export async function resolveRetention(flags: Pick<PruneFlags, 'retentionDays' | 'cpConfig'>, context: PruneFlagContext): Promise<{ days: number; source: RetentionSource }> {
  const fromFlag = flags.retentionDays === undefined ? undefined : parsePositiveInt('--retention-days', flags.retentionDays, MAX_RETENTION_DAYS);
  const cpPath = flags.cpConfig === undefined ? undefined : resolve(context.cwd, flags.cpConfig);
  const fromControlPlane = cpPath === undefined ? undefined : await readControlPlaneRetention(cpPath);
  if (fromFlag !== undefined) return { days: fromFlag, source: 'flag' };
  if (fromControlPlane !== undefined) return { days: fromControlPlane, source: 'cp-config' };
  const fromConfig = context.configRetentionDays;
  if (fromConfig !== undefined) {
    if (fromConfig > MAX_RETENTION_DAYS) throw new UsageError(`'retention_days' in the config file must be at most ${MAX_RETENTION_DAYS}, got ${fromConfig}`);
    return { days: fromConfig, source: 'config' };
  }
  return { days: DEFAULT_RETENTION_DAYS, source: 'default' };
}

function parseArchivePath(value: string, cwd: string): string {
  if (value.trim() === '' || value === '-') {
    throw new UsageError(`invalid --archive '${value}': expected a file path (NDJSON, gzip when it ends in .gz)`);
  }
  return resolve(cwd, value);
}
