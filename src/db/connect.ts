import { Kysely, PostgresDialect } from 'kysely';
import type { PoolConfig } from 'pg';
import { RuntimeError } from '../errors.js';
import { describeTarget, type ConnectionTarget } from './connection-url.js';

/**
 * The audit table's name and columns are only known at run time (they come from a config file), so queries are
 * built against an untyped database and every row is mapped to the canonical entry in one place (entry-columns.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = Kysely<any>;

export interface DatabaseSettings {
  target: ConnectionTarget;
  connectTimeoutMs: number;
  /** Connections the pool may open; export and prune use more than one. */
  maxConnections?: number;
  /** Server-side cursors for Kysely's `stream()` (pg-cursor), loaded only by the commands that stream. */
  streaming?: boolean;
}

/**
 * Opens a pool, runs `fn`, and always destroys the pool, so no command can leak connections. pg is imported here,
 * lazily, and Kysely with the command modules that use it: loading them costs start-up time that `--help` and
 * `--version` should not pay. Kysely is imported by name so the build keeps only the parts used.
 */
export async function withDatabase<T>(settings: DatabaseSettings, fn: (db: Db) => Promise<T>): Promise<T> {
  const [{ default: pg }, cursor] = await Promise.all([
    import('pg'),
    settings.streaming ? import('pg-cursor').then((module) => module.default) : undefined,
  ]);
  const pool = new pg.Pool(toPoolConfig(settings));
  // An idle client that loses its connection emits 'error' on the pool; without a listener Node would crash.
  pool.on('error', () => undefined);
  const db: Db = new Kysely({ dialect: new PostgresDialect({ pool, ...(cursor ? { cursor } : {}) }) });
  try {
    return await fn(db).catch((error: unknown) => {
      throw translateConnectionError(error, settings.target);
    });
  } finally {
    await db.destroy();
  }
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

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);
// SQLSTATE classes 08 (connection exception) and 28 (invalid authorization), 3D000 (database does not exist).
const CONNECTION_SQLSTATE = /^(08|28|3D000)/;

/** Turns "could not reach the server" errors into one line that names the (masked) target. */
export function translateConnectionError(error: unknown, target: ConnectionTarget): unknown {
  if (!(error instanceof Error) || error instanceof RuntimeError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const timedOut = /timeout/i.test(error.message) && /connect/i.test(error.message);
  if (!CONNECTION_CODES.has(code) && !CONNECTION_SQLSTATE.test(code) && !timedOut) return error;
  const reason = timedOut ? 'connection timed out' : error.message || code;
  return new RuntimeError(`cannot connect to PostgreSQL at ${describeTarget(target)}: ${reason}`, { cause: error });
}
