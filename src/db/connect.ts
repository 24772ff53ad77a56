import { Kysely, PostgresDialect } from 'kysely';
import type { Pool } from 'pg';
import { RuntimeError } from '../errors.js';
import { describeTarget, type ConnectionTarget } from './connection-url.js';
import { openPool, type DatabaseSettings, type OpenPool } from './pool.js';

export type { DatabaseSettings };

/**
 * The audit table's name and columns are only known at run time (they come from a config file), so queries are
 * built against an untyped database and every row is mapped to the canonical entry in one place (entry-columns.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = Kysely<any>;

/**
 * Opens a pool (or takes the one `connectEarly` opened), runs `fn`, and always destroys the pool, so no command
 * can leak connections. Kysely is imported by name so the build keeps only the parts used.
 */
export async function withDatabase<T>(settings: DatabaseSettings, fn: (db: Db) => Promise<T>, early?: Promise<OpenPool>): Promise<T> {
  const { pool, failure } = await (early ?? openPool(settings));
  const db: Db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  try {
    if (failure !== undefined) throw failure;
    return await fn(db);
  } catch (error) {
    throw translateConnectionError(error, settings.target);
  } finally {
    await db.destroy();
  }
}

const pools = new WeakMap<Db, Pool>();

/** The pg pool under `db` (from {@link withDatabase}), for what Kysely cannot run: COPY (copy-out.ts). */
export function poolOf(db: Db): Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('poolOf: this Kysely instance was not opened by withDatabase');
  return pool;
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
