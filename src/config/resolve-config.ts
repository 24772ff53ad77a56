import { access, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { passwordOnArgvWarning, resolveConnectionTarget, type ConnectionTarget } from './connection-url.js';
import { loadConfigFile, MAX_CONNECT_TIMEOUT_S, type ColumnsSpec, type ConfigFile } from './config-file.js';
import { NO_FINGERPRINT_KEY, readFingerprintKey } from '../secrets/fingerprint-key.js';

/** Flags shared by every subcommand (declared once on the program in cli.ts). */
export interface GlobalFlags {
  db?: string;
  config?: string;
  table?: string;
  demo?: boolean;
  debug?: boolean;
  connectTimeout?: number;
  secretFingerprints?: boolean;
  fingerprintKeyFile?: string;
}

/** Everything a command needs to reach the audit table, resolved once: flags > environment > config file > defaults. */
export interface ResolvedConfig {
  /** Undefined with --demo: the embedded database supplies its own URL. */
  connection?: ConnectionTarget;
  demo: boolean;
  connectTimeoutMs: number;
  /** Where connectTimeoutMs came from, in the words doctor shows. */
  connectTimeoutSource: string;
  table: string;
  columns: ColumnsSpec;
  /** `fingerprintKey` only when fingerprints are asked for (--secret-fingerprints or secrets.fingerprints). */
  secrets: { keys: string[]; mode: 'extend' | 'replace'; fingerprintKey?: string };
  retentionDays?: number;
  configPath?: string;
  /** Lines for stderr on every run: a password on argv, masking weakened by the config file, an ignored ./api7-audit.yaml. */
  warnings: string[];
  /** With --demo on a terminal: shows that the embedded database is starting; returns what ends the message. */
  announceDemo?: () => Promise<() => void>;
}

export const DEFAULT_TABLE = 'audit_logs';
const DEFAULT_CONNECT_TIMEOUT_S = 10;
/** Where earlier versions read a config file without being asked; one there is now only pointed out. */
const LEGACY_CONFIG_FILE = 'api7-audit.yaml';

export async function resolveConfig(flags: GlobalFlags, env: NodeJS.ProcessEnv, cwd: string): Promise<ResolvedConfig> {
  const warnings: string[] = [];
  const configPath = await findConfigFile(flags.config, env, cwd);
  const legacy = resolve(cwd, LEGACY_CONFIG_FILE);
  const legacyNotice = configPath !== legacy && (await exists(legacy))
    ? `./${LEGACY_CONFIG_FILE} is ignored (config files are not read from the working directory); to use it, pass --config ${LEGACY_CONFIG_FILE}`
    : undefined;
  if (legacyNotice) warnings.push(`notice: ${legacyNotice}`);
  if (configPath) await refuseWritableByOthers(configPath);
  const file: ConfigFile = configPath ? await loadConfigFile(configPath) : {};
  if (file.secrets?.mode === 'replace') {
    warnings.push(
      `warning: config file '${configPath}' sets secrets.mode: replace: only its secrets.keys are masked, not passwords, tokens or private keys`,
    );
  }
  const fingerprintKey = await resolveFingerprintKey(flags, file, env, cwd, configPath, (line) => warnings.push(line));
  const demo = flags.demo === true;
  const argvPassword = demo ? undefined : passwordOnArgvWarning(flags.db);
  if (argvPassword) warnings.push(argvPassword);
  const connection = demo ? undefined : withNotice(() => resolveConnectionTarget(flags.db, env, file.database?.url, configPath), legacyNotice);
  return {
    connection,
    demo,
    ...connectTimeout(flags.connectTimeout, connection?.url, env, file.database?.connect_timeout),
    // The demo database has its own table and columns: a config file's are for the real one.
    table: flags.table ?? (demo ? undefined : file.table) ?? DEFAULT_TABLE,
    columns: demo ? {} : (file.columns ?? {}),
    secrets: { keys: file.secrets?.keys ?? [], mode: file.secrets?.mode ?? 'extend', ...(fingerprintKey === undefined ? {} : { fingerprintKey }) },
    retentionDays: file.retention_days,
    configPath,
    warnings,
  };
}

/** The connect timeout and its source: --connect-timeout, else libpq's, else the config file's, else 10 s. */
function connectTimeout(flag: number | undefined, url: string | undefined, env: NodeJS.ProcessEnv, inFile: number | undefined): { connectTimeoutMs: number; connectTimeoutSource: string } {
  if (flag !== undefined) return { connectTimeoutMs: flag * 1000, connectTimeoutSource: '--connect-timeout' };
  const libpq = libpqConnectTimeout(url, env);
  if (libpq) return { connectTimeoutMs: libpq.ms, connectTimeoutSource: libpq.name };
  if (inFile !== undefined) return { connectTimeoutMs: inFile * 1000, connectTimeoutSource: 'database.connect_timeout' };
  return { connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_S * 1000, connectTimeoutSource: 'default' };
}

/**
 * libpq's connect timeout, below --connect-timeout: `connect_timeout` in the URL, else PGCONNECT_TIMEOUT. Whole
 * seconds as libpq reads them: 0 or less waits without limit, 1 is 2 (libpq's least). Undefined when neither is set.
 */
function libpqConnectTimeout(url: string | undefined, env: NodeJS.ProcessEnv): { ms: number; name: string } | undefined {
  const inUrl = url === undefined ? null : new URL(url).searchParams.get('connect_timeout');
  const [name, value] = inUrl !== null ? ['connect_timeout in the database URL', inUrl] : ['PGCONNECT_TIMEOUT', env.PGCONNECT_TIMEOUT];
  if (value === undefined || value === '') return undefined;
  const seconds = /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(seconds <= MAX_CONNECT_TIMEOUT_S)) {
    throw new UsageError(`invalid ${name} '${value}': expected whole seconds, at most ${MAX_CONNECT_TIMEOUT_S} (a day); 0 waits without limit`);
  }
  return { ms: seconds <= 0 ? 0 : Math.max(seconds, 2) * 1000, name };
}

/** A usage error of `resolve` carries `notice` too: it ends the run before the run's notices are printed. */
function withNotice<T>(resolve: () => T, notice: string | undefined): T {
  try {
    return resolve();
  } catch (error) {
    if (notice === undefined || !(error instanceof UsageError)) throw error;
    throw new UsageError(`${error.message}; ${notice}`, { cause: error });
  }
}

/** The fingerprint key when fingerprints are asked for; asking without a key is bad input. */
async function resolveFingerprintKey(
  flags: GlobalFlags, file: ConfigFile, env: NodeJS.ProcessEnv, cwd: string, configPath: string | undefined, warn: (line: string) => void,
): Promise<string | undefined> {
  if (flags.secretFingerprints !== true && file.secrets?.fingerprints !== true) return undefined;
  const configKeyFile = file.secrets?.fingerprint_key_file;
  const key = flags.fingerprintKeyFile !== undefined
    ? await readFingerprintKey(flags.fingerprintKeyFile, env, cwd, undefined, warn)
    : configKeyFile !== undefined && configPath !== undefined
      ? await readFingerprintKey(resolve(configPath, '..', configKeyFile), env, cwd, 'secrets.fingerprint_key_file', warn)
      : await readFingerprintKey(undefined, env, cwd);
  if (key === undefined) throw new UsageError(NO_FINGERPRINT_KEY);
  return key;
}

/**
 * The config file, as kubectl and gh look for theirs: --config FILE, else API7_AUDIT_CONFIG (both must exist), else
 * the first of $XDG_CONFIG_HOME/api7-audit/config.yaml (~/.config by default) and /etc/api7-audit/config.yaml that
 * exists. Never the working directory: a file dropped there could point the tool at another server.
 */
async function findConfigFile(flagPath: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Promise<string | undefined> {
  if (flagPath !== undefined) return resolve(cwd, flagPath);
  if (env.API7_AUDIT_CONFIG) return resolve(cwd, env.API7_AUDIT_CONFIG);
  for (const candidate of defaultConfigFiles(env)) if (await exists(candidate)) return candidate;
  return undefined;
}

/** The default locations, in order. */
export function defaultConfigFiles(env: NodeJS.ProcessEnv): string[] {
  // XDG: a relative XDG_CONFIG_HOME is invalid and ignored.
  const xdg = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return [join(xdg, 'api7-audit', 'config.yaml'), '/etc/api7-audit/config.yaml'];
}

/** A file that other users may write could point the tool at their server or turn masking off: refused, as ssh does. */
async function refuseWritableByOthers(path: string): Promise<void> {
  // A missing or unreadable file is reported by the loader, naming the reason.
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'EACCES' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (!info) return;
  const mode = `0${(info.mode & 0o777).toString(8)}`;
  if (info.mode & 0o022) {
    throw new UsageError(`config file '${path}' is writable by other users (mode ${mode}): run chmod go-w '${path}'`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid && info.uid !== 0) {
    throw new UsageError(`config file '${path}' belongs to another user (uid ${info.uid}): it must be yours or root's`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
