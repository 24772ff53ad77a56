import type { Pool, PoolConfig } from 'pg';
import type { ResolvedConfig } from '../config/resolve-config.js';
import type { ConnectionTarget } from './connection-url.js';

export interface DatabaseSettings {
  target: ConnectionTarget;
  connectTimeoutMs: number;
  /** Connections the pool may open; export and prune use more than one. */
  maxConnections?: number;
}

/** A pg pool. */
export interface OpenPool {
  pool: Pool;
  /** Set when {@link connectEarly}'s first connection failed: the session reports it instead of trying again. */
  failure?: unknown;
}

/**
 * Creates the pool. pg is imported here, lazily, and this module imports nothing heavy itself, so that a command
 * can start connecting before its own modules (Kysely above all) are loaded: `--help` and `--version` load neither.
 */
export async function openPool(settings: DatabaseSettings): Promise<OpenPool> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool(toPoolConfig(settings));
  // An idle client that loses its connection emits 'error' on the pool; without a listener Node would crash.
  pool.on('error', () => undefined);
  return { pool };
}

/** A session's pool settings: the configured server (set by then, with --demo too), its timeout, the command's needs. */
export function sessionSettings(config: ResolvedConfig, options: Pick<DatabaseSettings, 'maxConnections'> = {}): DatabaseSettings {
  return { target: config.connection as ConnectionTarget, connectTimeoutMs: config.connectTimeoutMs, ...options };
}

/**
 * Opens the pool and its first connection at once, for a command that has modules to load meanwhile: the server
 * starts a backend and authenticates while Node compiles them. For sessions with the default settings (list, show).
 * The promise never rejects; the caller must hand it to a session (`withAuditTable`'s `early`), which ends the pool,
 * or to {@link closeEarly}.
 */
export function connectEarly(config: ResolvedConfig): Promise<OpenPool> | undefined {
  // --demo: the embedded server is not running yet.
  if (config.demo || !config.connection) return undefined;
  return openPool(sessionSettings(config)).then(async (opened) => {
    try {
      (await opened.pool.connect()).release();
    } catch (error) {
      opened.failure = error;
    }
    return opened;
  });
}

function toPoolConfig({ target, connectTimeoutMs, maxConnections = 2 }: DatabaseSettings): PoolConfig {
  const base: PoolConfig = {
    connectionTimeoutMillis: connectTimeoutMs,
    max: maxConnections,
    application_name: 'api7-audit',
  };
  if (target.url) return { ...base, connectionString: target.url };
  return { ...base, ...target.libpq };
}

/** Ends an early pool that no session will take (the command failed before opening one). */
export async function closeEarly(early: Promise<OpenPool> | undefined): Promise<void> {
  if (early) await (await early).pool.end().catch(() => undefined);
}
