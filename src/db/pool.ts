import type { Client, ClientConfig, Pool, PoolClient, PoolConfig } from 'pg';
import type { ResolvedConfig } from '../config/resolve-config.js';
import type { ConnectionTarget } from '../config/connection-url.js';
import { NO_TLS, stripTlsParams } from '../config/tls-settings.js';
import { createTlsPool } from './tls.js';
import { markConnected } from '../interrupt.js';
import { cancelRequest, type BackendKey } from './cancel-request.js';

export interface DatabaseSettings {
  target: ConnectionTarget;
  connectTimeoutMs: number;
  /** Connections the pool may open; export and prune use more than one. */
  maxConnections?: number;
  /** What the session does ("prune", "export"), named in the error when its connection is lost. */
  activity?: string;
}

/** A pg pool. */
export interface OpenPool {
  pool: Pool;
  /** Set when {@link connectEarly}'s first connection failed: the session reports it instead of trying again. */
  failure?: unknown;
  /** Why a connection of this pool was lost, as the server (a FATAL message) or the socket told it: the last loss. */
  lost?: Error;
  /** Whether a connection of this pool was ever made: a connection closed before that was a failure to connect. */
  connected?: boolean;
  /** Whether a connect of this pool got bytes back: a server that answers garbage, not one that never answers. */
  heard?: boolean;
}

/**
 * Creates the pool. pg is imported here, lazily, and this module imports nothing heavy itself, so that a command
 * can start connecting before its own modules (Kysely above all) are loaded: `--help` and `--version` load neither.
 */
export async function openPool(settings: DatabaseSettings): Promise<OpenPool> {
  const { default: pg } = await import('pg');
  const connecting = new Set<Client>();
  // pg-pool hands out no client before it is connected: this class is the one place that sees a connect in progress.
  class TrackedClient extends pg.Client {
    constructor(config?: ClientConfig) {
      super(config);
      connecting.add(this);
      // pg leaves the TCP socket open when TLS fails on it (a server that answers SSLRequest with garbage starting
      // with 'S'): the process then waited for the server to hang up. A failed or ended connection closes it.
      const socket = this.connection.stream;
      const close = () => {
        connecting.delete(this);
        socket.destroy();
      };
      this.connection.once('error', close).once('end', close);
      // Once pg has ended its side (after Terminate, or a refused SSLRequest), nothing more is read: waiting for the
      // server to hang up kept the process alive a few milliseconds after every command.
      socket.once('finish', () => socket.destroy());
      // sslAnswer: the answer to an SSLRequest that tls.ts's askingSocket sent itself.
      for (const event of ['data', 'sslAnswer']) {
        socket.once(event, () => {
          opened.heard = true;
        });
      }
    }
  }
  const pool = createTlsPool(pg.Pool, { ...toPoolConfig(settings), Client: TrackedClient }, settings.target.tls ?? NO_TLS);
  connectingClients.set(pool, connecting);
  const opened: OpenPool = { pool };
  // An idle client that loses its connection emits 'error' on the pool; without a listener Node would crash.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => watchConnection(client, opened));
  pool.on('acquire', (client) => checkedOut.set(client, pool));
  pool.on('release', (_error: unknown, client: PoolClient) => checkedOut.delete(client));
  pool.on('remove', (client) => checkedOut.delete(client));
  return opened;
}

/**
 * Gives a client an 'error' listener for its whole life: pg-pool listens only while the client is idle, and a client
 * checked out (prune's connection, a COPY) that loses its connection would emit 'error' with no listener, which
 * crashes the process. The query in flight rejects on its own; the client is then unusable and pg-pool drops it
 * when it is released. The loss is recorded so that a later "not queryable" error can still say why.
 */
function watchConnection(client: PoolClient, opened: OpenPool): void {
  markConnected(cancelStatements);
  opened.connected = true;
  connectingClients.get(opened.pool)?.delete(client as unknown as Client);
  // This client's own loss: a later client's (follow reconnects) replaces an earlier client's, never the other way.
  let own: Error | undefined;
  const record = (error: Error) => {
    own = error;
    opened.lost = error;
  };
  // Ended by us while checked out (follow's Ctrl-C closes its poll's connection), not lost: a statement waiting for a
  // lock outlives its closed socket on the server.
  client.once('end', () => {
    if (own === undefined && checkedOut.has(client)) void cancelRequest(client as unknown as BackendKey);
  });
  client.on('error', (error: Error) => {
    // The server's own words ("terminating connection due to administrator command") beat the socket's.
    if (!own || !('severity' in own)) record(error);
  });
  // A FATAL message arrives before the socket closes; while a query runs, pg hands it to that query only.
  client.connection.on('errorMessage', (message: Error & { severity?: string }) => {
    if (message.severity === 'FATAL' || message.severity === 'PANIC') record(message);
  });
}

/** Every client checked out of a pool of this process (a statement may run on it), with its pool. */
const checkedOut = new Map<PoolClient, Pool>();

/**
 * Asks the server to cancel whatever runs on the connections checked out of `pool` (of every pool when none is
 * given), as psql does on Ctrl-C: a backend waiting for a lock notices neither its client's end nor a closed socket,
 * and stayed queued behind the lock until it was released. A connection with nothing running ignores the request.
 * Resolves once every request is sent, or after a second at most (cancel-request.ts).
 */
export async function cancelStatements(pool?: Pool): Promise<void> {
  const keys = [...checkedOut].filter(([, owner]) => pool === undefined || owner === pool).map(([client]) => client as unknown as BackendKey);
  await Promise.all(keys.filter((key) => typeof key.processID === 'number').map(cancelRequest));
}

/** The clients of each pool still connecting: a server that accepts TCP and never answers holds them until the timeout. */
const connectingClients = new WeakMap<Pool, Set<Client>>();

/**
 * Ends every connect of `pool` in progress at once (its socket destroyed): their callers get an error instead of
 * waiting out the connect timeout. For Ctrl-C in a command that reconnects (follow); connected clients are untouched.
 */
export function abortConnecting(pool: Pool): void {
  // The stream is the TLS socket once TLS is negotiated; its 'end' closes the TCP socket under it too (above).
  for (const client of connectingClients.get(pool) ?? []) client.connection.stream.destroy();
}

/** A session's pool settings: the configured server (set by then, with --demo too), its timeout, the command's needs. */
export function sessionSettings(config: ResolvedConfig, options: Pick<DatabaseSettings, 'maxConnections' | 'activity'> = {}): DatabaseSettings {
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
  if (target.url) return { ...base, connectionString: stripTlsParams(target.url) };
  return { ...base, ...target.libpq };
}

/** Ends an early pool that no session will take (the command failed before opening one). */
export async function closeEarly(early: Promise<OpenPool> | undefined): Promise<void> {
  if (early) await (await early).pool.end().catch(() => undefined);
}
