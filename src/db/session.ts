import type { ResolvedConfig } from '../config/resolve-config.js';
import { withPoolSession, type Db, type PoolSession } from './connect.js';
import { cancelStatements, sessionSettings, type OpenPool } from './pool.js';
import type { ConnectionTarget } from '../config/connection-url.js';
import { resolveMapping, type ResolvedMapping } from './mapping.js';

/** A connected pool and the audit table it reads, checked against the catalog. */
export interface AuditTable {
  db: Db;
  mapping: ResolvedMapping;
}

export interface SessionOptions {
  /** Connections the pool may open (default 2); export and prune use more. */
  maxConnections?: number;
  /** A pool `connectEarly` opened for this session; it is ended with the session whatever happens. */
  early?: Promise<OpenPool>;
  /** What the command does ("prune", "export", "list"), named in the error when its connection is lost. */
  activity?: string;
}

/**
 * The one way a command reaches the database: starts the embedded demo database when asked, opens the pool,
 * resolves the table mapping, runs `fn`, and tears everything down whatever happens.
 */
export function withAuditTable<T>(config: ResolvedConfig, fn: (table: AuditTable) => Promise<T>, options: SessionOptions = {}): Promise<T> {
  return withConfiguredDatabase(config, async (db, resolved) => fn({ db, mapping: await resolveMapping(db, resolved.table, resolved.columns) }), options);
}

/** {@link withAuditTable} before a table is known (init, doctor): the database, and the config with its target. */
export function withConfiguredDatabase<T>(config: ResolvedConfig, fn: (db: Db, config: ResolvedConfig) => Promise<T>, options: SessionOptions = {}): Promise<T> {
  return withConfiguredSession(config, async (session, resolved) => fn(await session.kysely(), resolved), options);
}

/**
 * {@link withConfiguredDatabase} with the pool itself, Kysely made only when asked for (`session.kysely()`): for
 * history's precompiled statements, which run without loading Kysely (docs/decisions/007).
 */
export async function withConfiguredSession<T>(config: ResolvedConfig, fn: (session: PoolSession, config: ResolvedConfig) => Promise<T>, options: SessionOptions = {}): Promise<T> {
  if (config.demo) {
    const { startDemoDatabase } = await import('../demo/database.js');
    // PGlite takes seconds to start: a spinner says so on a terminal (the command's announceDemo).
    const done = await config.announceDemo?.();
    const demo = await startDemoDatabase().finally(() => done?.());
    try {
      const target: ConnectionTarget = { url: demo.url, libpq: {}, source: 'demo' };
      return await connectAndRun({ ...config, connection: target }, fn, options);
    } finally {
      await demo.stop();
    }
  }
  return connectAndRun(config, fn, options);
}

function connectAndRun<T>(config: ResolvedConfig, fn: (session: PoolSession, config: ResolvedConfig) => Promise<T>, options: SessionOptions): Promise<T> {
  const settings = sessionSettings(config, { maxConnections: options.maxConnections, activity: options.activity });
  return withPoolSession(settings, async (session) => {
    try {
      return await fn(session, config);
    } catch (error) {
      // What its connections still run is no one's any more (Ctrl-C left export's COPY waiting for a lock): the
      // pool's end waits for every connection, so cancel it rather than wait for the lock to be released.
      await cancelStatements(session.pool);
      throw error;
    }
  }, options.early);
}
