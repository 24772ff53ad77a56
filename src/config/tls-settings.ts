import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileErrorReason, UsageError } from '../errors.js';

/** libpq's sslmode values, weakest first. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** libpq's TLS parameters: taken out of the URL handed to pg, whose own parser reads them differently (and warns). */
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;

/** How to secure the connection, resolved once from the URL and the PGSSL* variables, files read. */
export interface TlsSettings {
  mode: SslMode;
  /** Where `mode` came from, for messages: `sslmode=require in the URL`, `PGSSLMODE=require`, `the default sslmode=prefer`. */
  modeSource: string;
  /** Trusted roots (PEM). Undefined with `rootFile` 'system': Node's own store; undefined alone: none given. */
  ca?: string;
  /** The root certificate file used, or 'system'. */
  rootFile?: string;
  cert?: string;
  key?: string;
}

/** A connection that needs no TLS: the embedded demo server, and targets built without {@link resolveTls}. */
export const NO_TLS: TlsSettings = { mode: 'disable', modeSource: 'sslmode=disable' };

/**
 * Resolves TLS the way libpq does: a URL parameter beats its PGSSL* variable, which beats the default (`prefer`,
 * and the files under ~/.postgresql when they exist). An unknown mode, an unreadable named file or a verify mode
 * without a root certificate is a UsageError naming the value.
 */
export function resolveTls(url: string | undefined, env: NodeJS.ProcessEnv): TlsSettings {
  const params = url === undefined ? new URLSearchParams() : new URL(url).searchParams;
  const ssl = params.get('ssl');
  if (ssl !== null) throw new UsageError(`unsupported URL parameter 'ssl=${ssl}' in the database URL: use libpq's sslmode (disable, ${SSL_MODES.slice(1).join(', ')})`);
  const pick = (param: string, variable: string): [string, string] | undefined => {
    const value = params.get(param);
    if (value !== null && value !== '') return [value, `${param} in the URL`];
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === '' ? undefined : [fromEnv, variable];
  };
  const rootParam = pick('sslrootcert', 'PGSSLROOTCERT');
  const modeParam = pick('sslmode', 'PGSSLMODE');
  const mode = modeParam?.[0] ?? (rootParam?.[0] === 'system' ? 'verify-full' : 'prefer');
  if (!isSslMode(mode)) {
    const where = modeParam?.[1] === 'PGSSLMODE' ? 'PGSSLMODE' : 'sslmode in the database URL';
    throw new UsageError(`invalid ${where} '${mode}': expected one of ${SSL_MODES.join(', ')}`);
  }
  const modeSource = modeParam === undefined ? `the default sslmode=${mode}` : modeParam[1] === 'PGSSLMODE' ? `PGSSLMODE=${mode}` : `sslmode=${mode} in the URL`;
  if (mode === 'disable') return { mode, modeSource };
  const home = env.HOME || homedir();
  const settings: TlsSettings = { mode, modeSource };
  if (rootParam?.[0] === 'system') {
    // libpq (16+) refuses the system store with anything weaker than verify-full: any public CA would do otherwise.
    if (mode !== 'verify-full') throw new UsageError(`sslrootcert=system needs sslmode=verify-full, not ${mode} (${modeSource})`);
    settings.rootFile = 'system';
  } else {
    const rootFile = rootParam?.[0] ?? join(home, '.postgresql', 'root.crt');
    const ca = readPem(rootFile, rootParam === undefined ? undefined : rootParam[1]);
    if (ca !== undefined) Object.assign(settings, { ca, rootFile });
  }
  if (settings.rootFile === undefined && (mode === 'verify-ca' || mode === 'verify-full')) {
    throw new UsageError(
      `${modeSource} needs the CA that signed the server's certificate: set sslrootcert=FILE in the URL or PGSSLROOTCERT, ` +
        `put it in ${join(home, '.postgresql', 'root.crt')}, or use sslrootcert=system with verify-full`,
    );
  }
  const certParam = pick('sslcert', 'PGSSLCERT');
  const keyParam = pick('sslkey', 'PGSSLKEY');
  const cert = readPem(certParam?.[0] ?? join(home, '.postgresql', 'postgresql.crt'), certParam?.[1]);
  const key = readPem(keyParam?.[0] ?? join(home, '.postgresql', 'postgresql.key'), keyParam?.[1]);
  if (cert !== undefined && key === undefined && certParam !== undefined) {
    throw new UsageError(`${certParam[1]} '${certParam[0]}' needs its private key: set sslkey=FILE in the URL or PGSSLKEY`);
  }
  if (cert !== undefined && key !== undefined) Object.assign(settings, { cert, key });
  return settings;
}

function isSslMode(value: string): value is SslMode {
  return (SSL_MODES as readonly string[]).includes(value);
}

/** A PEM file's text; a missing default file is undefined, a named one that cannot be read is a UsageError. */
function readPem(file: string, namedBy: string | undefined): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (namedBy === undefined && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw new UsageError(`cannot read ${namedBy ?? 'the default'} '${file}': ${fileErrorReason(error)}`);
  }
}

/** The URL without the TLS parameters, so that pg's parser (which would override `ssl` and warn) never sees them. */
export function stripTlsParams(url: string): string {
  const parsed = new URL(url);
  if (!TLS_PARAMS.some((name) => parsed.searchParams.has(name))) return url;
  for (const name of TLS_PARAMS) parsed.searchParams.delete(name);
  return parsed.href;
}
