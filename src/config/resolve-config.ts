import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CanonicalField } from '../entry.js';
import { resolveConnectionTarget, type ConnectionTarget } from '../db/connection-url.js';
import { DEFAULT_CONFIG_FILE, loadConfigFile, type ConfigFile } from './config-file.js';

/** Flags shared by every subcommand (declared once on the program in cli.ts). */
export interface GlobalFlags {
  db?: string;
  config?: string;
  table?: string;
  demo?: boolean;
  debug?: boolean;
  connectTimeout?: number;
}

/** Everything a command needs to reach the audit table, resolved once: flags > environment > config file > defaults. */
export interface ResolvedConfig {
  /** Undefined with --demo: the embedded database supplies its own URL. */
  connection?: ConnectionTarget;
  demo: boolean;
  connectTimeoutMs: number;
  table: string;
  columns: Partial<Record<CanonicalField, string>>;
  secrets: { keys: string[]; mode: 'extend' | 'replace' };
  retentionDays?: number;
  configPath?: string;
}

export const DEFAULT_TABLE = 'audit_logs';
const DEFAULT_CONNECT_TIMEOUT_S = 10;

export async function resolveConfig(flags: GlobalFlags, env: NodeJS.ProcessEnv, cwd: string): Promise<ResolvedConfig> {
  const configPath = await findConfigFile(flags.config, cwd);
  const file: ConfigFile = configPath ? await loadConfigFile(configPath) : {};
  const demo = flags.demo === true;
  return {
    connection: demo ? undefined : resolveConnectionTarget(flags.db, env, file.database?.url),
    demo,
    connectTimeoutMs: (flags.connectTimeout ?? file.database?.connect_timeout ?? DEFAULT_CONNECT_TIMEOUT_S) * 1000,
    table: flags.table ?? file.table ?? DEFAULT_TABLE,
    columns: file.columns ?? {},
    secrets: { keys: file.secrets?.keys ?? [], mode: file.secrets?.mode ?? 'extend' },
    retentionDays: file.retention_days,
    configPath,
  };
}

/** --config FILE must exist; without it, ./api7-audit.yaml is used when present. */
async function findConfigFile(flagPath: string | undefined, cwd: string): Promise<string | undefined> {
  if (flagPath !== undefined) return resolve(cwd, flagPath);
  const defaultPath = resolve(cwd, DEFAULT_CONFIG_FILE);
  try {
    await access(defaultPath);
    return defaultPath;
  } catch {
    return undefined;
  }
}
