import { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import type { TlsSettings } from '../config/tls-settings.js';

/** One way to connect: pg's `ssl` option, and for {@link askingSocket} the socket pg is to use. */
export interface Attempt {
  ssl: false | ConnectionOptions;
  stream?: () => Socket;
}

/**
 * The ways to connect, in libpq's order: allow tries plain first, prefer TLS first. prefer asks on the first
 * socket and, when the server says no, goes on there in plain text, as libpq does; pg would end that socket and
 * need another, with a backend forked for each, on every run against a server without TLS (the default sslmode and
 * the usual local server). A server that says yes gets pg's own TLS on a new socket, then plain text if that fails.
 */
export function sslAttempts(tls: TlsSettings): Attempt[] {
  const secure = tlsOptions(tls);
  if (tls.mode === 'disable') return [{ ssl: false }];
  if (tls.mode === 'allow') return [{ ssl: false }, { ssl: secure }];
  if (tls.mode === 'prefer') return [{ ssl: false, stream: askingSocket }, { ssl: secure }, { ssl: false }];
  return [{ ssl: secure }];
}

/** The server answered an SSLRequest with `S`: TLS is on, and pg's own TLS is to take over on a new socket. */
export class ServerOffersTls extends Error {
  override readonly name = 'ServerOffersTls';
}

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * A socket for pg with `ssl: false` that first sends an SSLRequest, as libpq's prefer does. What pg writes meanwhile
 * (its startup message, sent as soon as the socket connects) is held until the server answers: `N`, and it goes out
 * on this socket in plain text; `S` or anything else destroys the socket with an error that {@link createTlsPool}
 * reads as "try the next way". The answer is emitted as `sslAnswer`, never as data: pg must not parse it.
 */
export function askingSocket(): Socket {
  const socket = new Socket();
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
  const held: unknown[][] = [];
  let asking = true;
  // Registered before pg's own 'connect' listeners: the request goes out before anything pg writes.
  socket.once('connect', () => write(SSL_REQUEST));
  const holding = ((...args: unknown[]) => {
    if (!asking) return write(...args);
    held.push(args);
    return true;
  }) as typeof socket.write;
  // net.Socket's connect() puts its own write back on the instance: the holding one goes on after it.
  const connect = socket.connect.bind(socket) as (...args: unknown[]) => Socket;
  socket.connect = ((...args: unknown[]) => {
    const connecting = connect(...args);
    socket.write = holding;
    return connecting;
  }) as typeof socket.connect;
  socket.once('close', () => {
    // A write held when the socket closed: its callback (pg's, after Terminate) is told so.
    for (const args of held.splice(0)) (args.find((arg) => typeof arg === 'function') as ((error: Error) => void) | undefined)?.(new Error('Connection terminated'));
  });
  socket.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    if (!asking || event !== 'data') return emit(event, ...args);
    asking = false;
    const answer = args[0] as Buffer;
    emit('sslAnswer', answer);
    // The server waits after its one byte, for a startup message or a TLS handshake.
    if (answer.length === 1 && answer[0] === 0x4e) {
      for (const pending of held.splice(0)) write(...pending);
    } else {
      socket.destroy(answer.length === 1 && answer[0] === 0x53 ? new ServerOffersTls('the server offers TLS') : new Error(ASKED_BADLY));
    }
    return true;
  };
  return socket;
}

/** pg's words for an SSLRequest answered with something else than `S` or `N`: {@link isTlsFailure} knows them. */
const ASKED_BADLY = 'There was an error establishing an SSL connection';

/** Node TLS options: verify the chain when a root is known (libpq: require with a root file acts as verify-ca), the host only for verify-full. */
function tlsOptions(tls: TlsSettings): ConnectionOptions {
  const client = tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {};
  if (tls.rootFile === undefined) return { ...client, rejectUnauthorized: false };
  const roots = tls.ca === undefined ? {} : { ca: tls.ca };
  return tls.mode === 'verify-full' ? { ...client, ...roots } : { ...client, ...roots, checkServerIdentity: () => undefined };
}

/** A failure to connect that TLS caused, worded for the user; connect.ts names the server and the source around it. */
export class TlsConnectError extends Error {
  override readonly name = 'TlsConnectError';
}

const NO_SSL = 'The server does not support SSL connections';
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;
/** OpenSSL's verification results: the chain did not lead to a trusted root, or a certificate is unusable. */
const CHAIN_CODE = /^(UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_)/;

function isTlsFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return error.message === NO_SSL || error.message === ASKED_BADLY || error instanceof ServerOffersTls || TLS_CODE.test(code) || 'library' in error;
}

/** A FATAL ErrorResponse during start-up (pg_hba.conf's hostssl/hostnossl among them): libpq then tries the other way. */
function isStartupRejection(error: unknown): boolean {
  return error instanceof Error && (error as { severity?: unknown }).severity === 'FATAL';
}

/** Rewords a TLS failure; any other error is returned as it is. */
export function describeTlsFailure(error: unknown, tls: TlsSettings): unknown {
  if (!isTlsFailure(error)) return error;
  const failure = error as NodeJS.ErrnoException;
  const roots = tls.rootFile === 'system' ? "the system's CAs" : `sslrootcert '${tls.rootFile ?? ''}'`;
  let message: string;
  if (failure.message === NO_SSL) message = `the server does not accept SSL connections, which ${tls.modeSource} requires`;
  else if (failure.code === 'ERR_TLS_CERT_ALTNAME_INVALID') message = `the server's certificate is for another host name (${tls.modeSource} checks it; verify-ca would not): ${failure.message}`;
  else if (CHAIN_CODE.test(failure.code ?? '')) message = `the server's certificate is not trusted by ${roots} (${tls.modeSource}): ${failure.message}`;
  else message = `the TLS handshake failed (${tls.modeSource}): ${failure.message}`;
  return new TlsConnectError(message, { cause: error });
}

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * A pool that connects as libpq would for `tls`. With allow and prefer the first connection tries one way, then the
 * other when TLS or the server refuses; the way that worked is kept for the pool's later connections (decided one
 * connection at a time, since pg-pool reads `options.ssl` when it creates a client).
 */
export function createTlsPool(PoolClass: typeof Pool, config: PoolConfig, tls: TlsSettings): Pool {
  const attempts = sslAttempts(tls);
  class TlsPool extends PoolClass {
    private chosen = attempts.length === 1 ? 0 : undefined;
    private deciding: Promise<unknown> | undefined;

    override connect(): Promise<PoolClient>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<PoolClient> | undefined {
      const connected = this.negotiate();
      if (callback === undefined) return connected;
      connected.then(
        (client) => callback(undefined, client, (release) => client.release(release as boolean | Error | undefined)),
        (error: Error) => callback(error, undefined, () => undefined),
      );
      return undefined;
    }

    private async negotiate(): Promise<PoolClient> {
      for (let waits = 0; this.deciding !== undefined && waits < 2; waits++) await this.deciding.catch(() => undefined);
      if (this.chosen !== undefined) return this.attempt(this.chosen);
      const deciding = this.decide();
      this.deciding = deciding;
      try {
        return await deciding;
      } finally {
        this.deciding = undefined;
      }
    }

    private async decide(): Promise<PoolClient> {
      for (let index = 0; ; index++) {
        try {
          const client = await this.attempt(index);
          // After an `N` on the asking socket, later connections start up in plain text at once (a reconnect then
          // meets what the server says at start-up, not an answer to an SSLRequest).
          this.chosen = attempts[index]?.stream === undefined ? index : attempts.findIndex((attempt) => attempt.ssl === false && attempt.stream === undefined);
          return client;
        } catch (error) {
          const tried = (error as { cause?: unknown }).cause ?? error;
          if (index + 1 >= attempts.length || !(isTlsFailure(tried) || isStartupRejection(tried))) throw error;
        }
      }
    }

    private async attempt(index: number): Promise<PoolClient> {
      const attempt = attempts[index] as Attempt;
      this.options.ssl = attempt.ssl;
      (this.options as { stream?: () => Socket }).stream = attempt.stream;
      try {
        return await super.connect();
      } catch (error) {
        throw describeTlsFailure(error, tls);
      }
    }
  }
  return new TlsPool({ ...config, ssl: attempts[0]?.ssl });
}
