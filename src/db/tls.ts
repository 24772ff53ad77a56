import type { ConnectionOptions } from 'node:tls';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import type { TlsSettings } from '../config/tls-settings.js';

/** pg's `ssl` option for each attempt, in libpq's order: allow tries plain first, prefer TLS first. */
export function sslAttempts(tls: TlsSettings): (false | ConnectionOptions)[] {
  const secure = tlsOptions(tls);
  if (tls.mode === 'disable') return [false];
  if (tls.mode === 'allow') return [false, secure];
  if (tls.mode === 'prefer') return [secure, false];
  return [secure];
}

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
  return error.message === NO_SSL || error.message === 'There was an error establishing an SSL connection' || TLS_CODE.test(code) || 'library' in error;
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
          this.chosen = index;
          return client;
        } catch (error) {
          const tried = (error as { cause?: unknown }).cause ?? error;
          if (index + 1 >= attempts.length || !(isTlsFailure(tried) || isStartupRejection(tried))) throw error;
        }
      }
    }

    private async attempt(index: number): Promise<PoolClient> {
      this.options.ssl = attempts[index];
      try {
        return await super.connect();
      } catch (error) {
        throw describeTlsFailure(error, tls);
      }
    }
  }
  return new TlsPool({ ...config, ssl: attempts[0] });
}
