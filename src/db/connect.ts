import type { Kysely } from 'kysely';
import type { Pool, PoolClient } from 'pg';
import { ConnectionLostError, RuntimeError } from '../errors.js';
import { describeAddress, describeSource, type ConnectionTarget } from '../config/connection-url.js';
import { openPool, type DatabaseSettings, type OpenPool } from './pool.js';
import { TlsConnectError } from './tls.js';

export type { DatabaseSettings };

/**
 * The audit table's name and columns are only known at run time (they come from a config file), so queries are
 * built against an untyped database and every row is mapped to the canonical entry in one place (entry-columns.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = Kysely<any>;

/** A session's pool, and the Kysely instance over it, made on first use: a command can run its session without Kysely. */
export interface PoolSession {
  pool: Pool;
  kysely(): Promise<Db>;
}

/**
 * Opens a pool (or takes the one `connectEarly` opened), runs `fn`, and always destroys the pool, so no command
 * can leak connections. Kysely is imported by name so the build keeps only the parts used.
 */
export function withDatabase<T>(settings: DatabaseSettings, fn: (db: Db) => Promise<T>, early?: Promise<OpenPool>): Promise<T> {
  return withPoolSession(settings, async (session) => fn(await session.kysely()), early);
}

/**
 * {@link withDatabase} for a command that may run without Kysely (history's precompiled statements,
 * docs/decisions/007): Kysely is imported and its instance made only when `kysely()` is first called.
 */
export async function withPoolSession<T>(settings: DatabaseSettings, fn: (session: PoolSession) => Promise<T>, early?: Promise<OpenPool>): Promise<T> {
  const opened = await (early ?? openPool(settings));
  const { pool, failure } = opened;
  let db: Promise<Db> | undefined;
  const kysely = () => (db ??= createKysely(opened));
  try {
    if (failure !== undefined) throw failure;
    return await fn({ pool, kysely });
  } catch (error) {
    throw translateConnectionError(error, settings.target, { activity: settings.activity, lost: opened.lost, timeoutMs: settings.connectTimeoutMs, connected: opened.connected === true, heard: opened.heard === true });
  } finally {
    if (db) await (await db).destroy();
    // Kysely ends only a pool it has used: a session that failed before its first query (a bad --table) must end it.
    if (!pool.ending) await pool.end();
  }
}

async function createKysely(opened: OpenPool): Promise<Db> {
  const { Kysely, PostgresDialect } = await import('kysely');
  const db: Db = new Kysely({ dialect: new PostgresDialect({ pool: opened.pool }) });
  pools.set(db, opened.pool);
  opens.set(db, opened);
  return db;
}

/**
 * Runs `fn` on one connection of `pool` in a READ ONLY transaction, as Kysely's `transaction().setAccessMode('read
 * only')` does (read-only.ts): the same statements, a rollback when `fn` fails, the connection released after.
 */
export async function withReadOnlyConnection<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection whose rollback failed is not given back to the pool (Kysely's driver discards it too).
  let discard: Error | undefined;
  try {
    await client.query('start transaction read only');
    try {
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((failed: Error) => {
        discard = failed;
        throw failed;
      });
      throw error;
    }
  } finally {
    client.release(discard);
  }
}

const pools = new WeakMap<Db, Pool>();
const opens = new WeakMap<Db, OpenPool>();

/** The pg pool under `db` (from {@link withDatabase}), for what Kysely cannot run: COPY (copy-out.ts). */
export function poolOf(db: Db): Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('poolOf: this Kysely instance was not opened by withDatabase');
  return pool;
}

/** Why a connection of `db`'s pool was last lost, as recorded (pool.ts): for a command that reports a loss and goes on. */
export function lastLossOf(db: Db): Error | undefined {
  return opens.get(db)?.lost;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

/** A socket that could not be opened: a code above, or any failed connect(), as ENOENT for a unix socket that is not there. */
function isSocketFailure(error: Error): boolean {
  const { code = '', syscall } = error as NodeJS.ErrnoException;
  return CONNECTION_CODES.has(code) || syscall === 'connect';
}
// SQLSTATE classes 08 (connection exception) and 28 (invalid authorization), 3D000 (database does not exist), and
// the refusals of a server that is there: 53300 too many connections, 57P03 starting up or shutting down.
const CONNECTION_SQLSTATE = /^(08|28|3D000|53300|57P03)/;
/** What pg says when a connection it held went away, in the query that was running or the next one. */
const LOST_MESSAGES = new Set(['Connection terminated unexpectedly', 'Client has encountered a connection error and is not queryable']);
/** pg's own check before connecting, when neither the URL, PGUSER nor USER names a user. */
const NO_USER = /^no PostgreSQL user name specified/;
// 57P01 admin_shutdown (pg_terminate_backend, a fast or immediate shutdown), 57P02 crash_shutdown.
const TERMINATED_SQLSTATE = /^57P0[12]$/;

/** What a session knows when it fails: what it was doing, and why a connection of its pool was lost, if one was. */
export interface FailureContext {
  activity?: string;
  lost?: Error;
  /** The connect timeout in force, named when it was reached. */
  timeoutMs?: number;
  /** The server (`HOST:PORT/DB`), named with a timeout where no message around it names it. */
  address?: string;
  /** False when no connection of the session was ever made: pg's "terminated" then means the start-up failed. */
  connected?: boolean;
  /** Whether the server sent anything back: a start-up that timed out after that met something that is not PostgreSQL. */
  heard?: boolean;
}

/** pg's words for a connect that got no answer in time: pg-pool's timer, the client's own, a wait for a free client. */
const TIMEOUT_MESSAGES = new Set(['Connection terminated due to connection timeout', 'timeout expired', 'timeout exceeded when trying to connect']);

export function isConnectTimeout(error: Error): boolean {
  return TIMEOUT_MESSAGES.has(error.message);
}

/**
 * Why `error` happened, in one phrase: for pg's generic "connection terminated" the recorded loss (the server's
 * FATAL, the socket's error); for a timeout, how long it waited.
 */
export function describeFailure(error: Error, context: FailureContext = {}): string {
  if (isConnectTimeout(error)) {
    const from = context.address === undefined ? '' : ` from ${context.address}`;
    return context.timeoutMs === undefined ? `connection timed out${from}` : `connection timed out (no answer${from} within ${formatSeconds(context.timeoutMs)})`;
  }
  if (LOST_MESSAGES.has(error.message) && context.lost) return context.lost.message;
  return error.message || ((error as NodeJS.ErrnoException).code ?? 'unknown error');
}

const formatSeconds = (ms: number) => `${Number((ms / 1000).toFixed(3))}s`;

/**
 * Turns "could not reach the server" errors into one line that names the (masked) target, and a connection lost
 * during the run into one line that names the server and what was running.
 */
export function translateConnectionError(error: unknown, target: ConnectionTarget, context: FailureContext = {}): unknown {
  if (!(error instanceof Error) || error instanceof RuntimeError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const notPostgres = context.connected === false && (LOST_MESSAGES.has(error.message) || (context.heard === true && isConnectTimeout(error)));
  if (notPostgres) {
    // An HTTP server, an SSH daemon, a TLS terminator: it hung up on the start-up message, or answered it with bytes
    // pg waits in vain to complete into a message.
    const what = LOST_MESSAGES.has(error.message)
      ? 'closed the connection without answering as PostgreSQL does'
      : `answered with bytes that are not PostgreSQL's protocol (no complete reply within ${formatSeconds(context.timeoutMs ?? 0)})`;
    const reason = `the server ${what}: is ${describeAddress(target).replace(/\/[^/]*$/, '')} a PostgreSQL server, not a web server, a proxy or another service?`;
    return new RuntimeError(`cannot connect to PostgreSQL at ${describeAddress(target)} (from ${describeSource(target)}): ${reason}`, { cause: error });
  }
  if (isConnectionLost(error, context.lost)) {
    // pg's own words say only that the connection is gone; the recorded loss says why.
    const reason = describeFailure(error, context);
    const during = context.activity ? ` during ${context.activity}` : '';
    return new ConnectionLostError(`lost the connection to PostgreSQL at ${describeAddress(target)}${during}: ${reason}`, { cause: error });
  }
  const timedOut = isConnectTimeout(error);
  const tls = error instanceof TlsConnectError;
  if (!isSocketFailure(error) && !CONNECTION_SQLSTATE.test(code) && !timedOut && !NO_USER.test(error.message) && !tls) return error;
  let reason = error.message || code;
  if (timedOut) reason = `${describeFailure(error, context)}; check that the server is running and that this host and port are right and reachable from here (a firewall may drop the packets), or raise --connect-timeout`;
  else if (code === 'ENOTFOUND') reason = `the host name does not resolve (${error.message}): check its spelling and this machine's DNS`;
  else if (code === 'ENOENT') reason = `no server socket there (${error.message}): check that the server is running and that the directory is one of its unix_socket_directories`;
  return new RuntimeError(`cannot connect to PostgreSQL at ${describeAddress(target)} (from ${describeSource(target)}): ${reason}`, { cause: error });
}

/**
 * Whether `error` means a connection that was open went away. A reset or a connection-class error counts only when a
 * connection of the session was seen to go (`lost`); otherwise it is a failure to connect.
 */
export function isConnectionLost(error: Error, lost: Error | undefined): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (LOST_MESSAGES.has(error.message) || TERMINATED_SQLSTATE.test(code)) return true;
  return lost !== undefined && (isSocketFailure(error) || CONNECTION_SQLSTATE.test(code) || isConnectTimeout(error));
}
