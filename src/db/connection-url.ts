import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';

/** Where the connection settings came from, named in error messages so users know what to fix. */
export type ConnectionSource = '--db' | 'API7_AUDIT_DATABASE_URL' | 'DATABASE_URL' | 'config file' | 'PG* variables' | 'demo';

export interface ConnectionTarget {
  /** A postgres:// URL, or undefined to use the libpq variables in `libpq`. */
  url?: string;
  libpq: LibpqSettings;
  source: ConnectionSource;
}

export interface LibpqSettings {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
}

/**
 * Picks the database URL: --db, then API7_AUDIT_DATABASE_URL, then DATABASE_URL, then `database.url` of the config
 * file, then the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
 */
export function resolveConnectionTarget(flagUrl: string | undefined, env: NodeJS.ProcessEnv, fileUrl: string | undefined): ConnectionTarget {
  const candidates: [ConnectionSource, string | undefined][] = [
    ['--db', flagUrl],
    ['API7_AUDIT_DATABASE_URL', env.API7_AUDIT_DATABASE_URL],
    ['DATABASE_URL', env.DATABASE_URL],
    ['config file', fileUrl],
  ];
  const libpq = readLibpqEnv(env);
  for (const [source, url] of candidates) {
    if (url !== undefined && url !== '') return { url: validateUrl(source, url), libpq, source };
  }
  return { libpq, source: 'PG* variables' };
}

function validateUrl(source: ConnectionSource, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': expected postgres://user@host:5432/dbname`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': the scheme must be postgres:// or postgresql://`);
  }
  registerSecret(parsed.password);
  registerSecret(safeDecode(parsed.password));
  return url;
}

function readLibpqEnv(env: NodeJS.ProcessEnv): LibpqSettings {
  const port = env.PGPORT ? Number(env.PGPORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new UsageError(`invalid PGPORT '${env.PGPORT}': expected a port number`);
  }
  registerSecret(env.PGPASSWORD);
  return { host: env.PGHOST, port, user: env.PGUSER, password: env.PGPASSWORD, database: env.PGDATABASE };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Replaces the password of a URL with `***`, also for strings that do not parse as a URL. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/i, '$1:***@');
}

/** A printable description of the target: the masked URL or host:port/db from libpq variables. */
export function describeTarget(target: ConnectionTarget): string {
  if (target.url) return maskUrl(target.url);
  const { host = 'localhost', port = 5432, user, database } = target.libpq;
  return `${user ? `${user}@` : ''}${host}:${port}/${database ?? user ?? ''}`;
}

/**
 * HOST:PORT/DB of the target, from the URL or the libpq variables, with what pg would fill in for the parts left
 * out, never a password. For messages about a connection that was made and then lost.
 */
export function describeAddress(target: ConnectionTarget): string {
  const { libpq } = target;
  // Validated when resolved, but a message must not fail for a URL that slipped through: it is then shown masked.
  if (target.url !== undefined && !URL.canParse(target.url)) return maskUrl(target.url);
  const url = target.url === undefined ? undefined : new URL(target.url);
  const param = (name: string) => url?.searchParams.get(name) || undefined;
  const host = (url && safeDecode(url.hostname)) || param('host') || libpq.host || 'localhost';
  const port = url?.port || param('port') || libpq.port || 5432;
  const database = (url && safeDecode(url.pathname.slice(1))) || libpq.database || (url && safeDecode(url.username)) || libpq.user || '';
  return `${host}:${port}/${database}`;
}
