import { resolve } from 'node:path';
import type { RetentionSource } from '../domain.js';
import { UsageError } from '../errors.js';
import { parsePositiveInt } from './parse-flags.js';
import { MAX_RETENTION_DAYS, readControlPlaneRetention } from './cp-config.js';

/** What the flags are resolved against: the working directory and api7-audit's own config file. */
export interface PruneFlagContext {
  cwd: string;
  /** `retention_days` from api7-audit.yaml, already validated by the config loader. */
  configRetentionDays?: number;
}

/** The control plane's own default for `audit.retention_days`. */
export const DEFAULT_RETENTION_DAYS = 60;

/**
 * Retention in days: `--retention-days`, else `audit.retention_days` in the control plane's conf.yaml
 * (`--cp-config`), else `retention_days` in api7-audit.yaml, else 60. A conf.yaml given but unreadable is an error
 * even when `--retention-days` wins, so a typo in a cron line is noticed the first night.
 */
export async function resolveRetention(flags: { retentionDays?: string; cpConfig?: string }, context: PruneFlagContext): Promise<{ days: number; source: RetentionSource }> {
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

