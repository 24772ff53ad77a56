import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parsePositiveInt } from '../config/parse-flags.js';
import { MAX_RETENTION_DAYS, readControlPlaneRetention } from '../config/cp-config.js';
import type { PruneOptions, RetentionSource } from './prune.js';

/** Raw prune flags as commander collects them; values are validated by {@link parsePruneFlags}. */
export interface PruneFlags {
  retentionDays?: string;
  cpConfig?: string;
  dryRun?: boolean;
  batchSize?: string;
  maxDuration?: string;
  archive?: string;
  detachOnly?: boolean;
  yes?: boolean;
  json?: boolean;
  showSecrets?: boolean;
}

/** What the flags are resolved against: the working directory and api7-audit's own config file. */
export interface PruneFlagContext {
  cwd: string;
  /** `retention_days` from api7-audit.yaml, already validated by the config loader. */
  configRetentionDays?: number;
}

/** The control plane's own default for `audit.retention_days`. */
export const DEFAULT_RETENTION_DAYS = 60;

/**
 * Rows per DELETE. Measured on PostgreSQL 15 with ~1 KB entries (see examples/README-prune.md): 5,000 keeps every
 * batch statement far below 250 ms while deleting at about the rate of one plain DELETE; 1,000 pays round trips,
 * 20,000 and more only lengthen the statements that hold row locks.
 */
export const DEFAULT_BATCH_SIZE = 5000;
export const MAX_BATCH_SIZE = 100_000;

const DURATION = /^(\d{1,9})(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Turns commander's raw flags into typed prune options; every bad value is a UsageError naming it. */
export async function parsePruneFlags(flags: PruneFlags, context: PruneFlagContext): Promise<PruneOptions> {
  const batchSize = flags.batchSize === undefined ? DEFAULT_BATCH_SIZE : parsePositiveInt('--batch-size', flags.batchSize, MAX_BATCH_SIZE);
  const maxDurationMs = flags.maxDuration === undefined ? undefined : parseMaxDuration(flags.maxDuration);
  const retention = await resolveRetention(flags, context);
  return {
    retention,
    dryRun: flags.dryRun === true,
    batchSize,
    maxDurationMs,
    archive: flags.archive === undefined ? undefined : parseArchivePath(flags.archive, context.cwd),
    detachOnly: flags.detachOnly === true,
    yes: flags.yes === true,
    output: flags.json ? 'json' : 'text',
    showSecrets: flags.showSecrets === true,
  };
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

/** `--max-duration 90s | 10m | 2h | 500ms`. */
export function parseMaxDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] as string] ?? 0) : 0;
  if (!match || ms < 1) throw new UsageError(`invalid --max-duration '${value}': expected a duration such as 90s, 10m or 2h`);
  return ms;
}

function parseArchivePath(value: string, cwd: string): string {
  if (value.trim() === '' || value === '-') {
    throw new UsageError(`invalid --archive '${value}': expected a file path (NDJSON, gzip when it ends in .gz)`);
  }
  return resolve(cwd, value);
}
