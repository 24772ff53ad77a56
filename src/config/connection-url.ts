import { UsageError } from '../errors.js';
import { registerSecret } from '../secrets/redact.js';
import { resolveTls, type TlsSettings } from './tls-settings.js';

/** Where the connection settings came from, named in error messages so users know what to fix. */
export type ConnectionSource = '--db' | 'API7_AUDIT_DATABASE_URL' | 'DATABASE_URL' | 'config file' | 'PG* variables' | 'demo';

export interface ConnectionTarget {
  /** A postgres:// URL, or undefined to use the libpq variables in `libpq`. */
  url?: string;
  libpq: LibpqSettings;
  source: ConnectionSource;
  /** The config file that gave the URL, when `source` is 'config file'. */
  file?: string;
  /** sslmode and certificates from the URL and the PGSSL* variables; unset: no TLS (the demo). */
  tls?: TlsSettings;
}

export interface LibpqSettings {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
}

/** The libpq variables that, set alone, say which server to use (PGPASSWORD alone does not). */
const LIBPQ_TARGET_VARIABLES = ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE'] as const;

/** Every way to name the database, for the message when none is used. */
export const NO_DATABASE_MESSAGE =
  'no database configured: pass --db postgres://USER@HOST:5432/DB, or set API7_AUDIT_DATABASE_URL or DATABASE_URL, ' +
  'or database.url in a config file (--config FILE, API7_AUDIT_CONFIG, ~/.config/api7-audit/config.yaml), ' +
  'or the libpq variables PGHOST, PGPORT, PGUSER, PGDATABASE; or try --demo';

/**
 * Picks the database URL: --db, then API7_AUDIT_DATABASE_URL, then DATABASE_URL, then `database.url` of the config
 * file, then the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). None of them is a UsageError: pg
 * would otherwise guess localhost and the login name as the database, and fail (or succeed) somewhere unexpected.
 */
export function resolveConnectionTarget(flagUrl: string | undefined, env: NodeJS.ProcessEnv, fileUrl: string | undefined, filePath?: string): ConnectionTarget {
  const candidates: [ConnectionSource, string | undefined][] = [
    ['--db', flagUrl],
    ['API7_AUDIT_DATABASE_URL', env.API7_AUDIT_DATABASE_URL],
    ['DATABASE_URL', env.DATABASE_URL],
    ['config file', fileUrl],
  ];
  const libpq = readLibpqEnv(env);
  for (const [source, url] of candidates) {
    if (url === undefined || url === '') continue;
    const file = source === 'config file' ? filePath : undefined;
    const valid = validateUrl(source === 'config file' && file ? `config file '${file}'` : source, url);
    return { url: valid, libpq, source, ...(file ? { file } : {}), tls: resolveTls(valid, env) };
  }
  if (!LIBPQ_TARGET_VARIABLES.some((name) => env[name])) throw new UsageError(NO_DATABASE_MESSAGE);
  return { libpq, source: 'PG* variables', tls: resolveTls(undefined, env) };
}

/** Where the target came from, for messages: `--db`, `DATABASE_URL`, `config file '/etc/...'`, `PGHOST, PGUSER`. */
export function describeSource(target: ConnectionTarget): string {
  if (target.source === 'config file' && target.file) return `config file '${target.file}'`;
  if (target.source !== 'PG* variables') return target.source;
  const { host, port, user, database } = target.libpq;
  const set = Object.entries({ PGHOST: host, PGPORT: port, PGUSER: user, PGDATABASE: database }).filter(([, value]) => value !== undefined && value !== '');
  return set.length > 0 ? set.map(([name]) => name).join(', ') : 'PG* variables';
}

/** The warning for a password given on the command line, where `ps` shows it to every user of the machine. */
export function passwordOnArgvWarning(flagUrl: string | undefined): string | undefined {
  if (flagUrl === undefined || (passwordOf(flagUrl) === undefined && !new RegExp(PASSWORD_PARAM.source, 'i').test(flagUrl))) return undefined;
  return 'warning: a password in --db on the command line is visible to other users of this machine; prefer PGPASSWORD, ~/.pgpass or API7_AUDIT_DATABASE_URL';
}

function validateUrl(source: string, url: string): string {
  // Registered before parsing, so that even a URL that does not parse never shows its password in a message.
  const password = passwordOf(url);
  registerSecret(password);
  if (password !== undefined) registerSecret(safeDecode(password));
  for (const match of url.matchAll(PASSWORD_PARAM)) registerSecret(safeDecode(match[2] ?? ''));
  // libpq's `host1:5432,host2:5432` (a primary and its standbys): pg connects to one host only and would try the
  // whole list as one name or refuse the port; one line now names the cause.
  const hosts = url.replace(/^[a-z][a-z0-9+.-]*:\/\/(?:.*@)?/is, '').split(/[/?#]/)[0] ?? '';
  if (hosts.includes(',') || /[?&]host=[^&#]*,/i.test(url)) {
    throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': it names several hosts, which pg (the driver) does not support: name one host, the primary's`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL as shown has *** for its password, so say what in the password broke it.
    if (/[/?#]/.test(password ?? '')) {
      throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': its password holds '/', '?' or '#', which end a URL's host part; percent-encode them (%2F, %3F, %23) or set PGPASSWORD`);
    }
    // `user@/db?host=/run/postgresql`: libpq takes it, the WHATWG URL parser (no host after user info) does not.
    if (/^[a-z]+:\/\/[^/]*@\//i.test(url)) {
      throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': no host after the user; for a unix socket write postgres://USER@%2Frun%2Fpostgresql/DB or postgres:///DB?host=/run/postgresql&user=USER`);
    }
    throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': expected postgres://user@host:5432/dbname`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': the scheme must be postgres:// or postgresql://`);
  }
  // `postgres:/u:pw@h/db` parses as a path, and would be named as one (the database) in connection errors.
  if (!/^[a-z]+:\/\//i.test(url)) throw new UsageError(`invalid database URL from ${source} '${maskUrl(url)}': expected postgres://user@host:5432/dbname`);
  registerSecret(parsed.password);
  registerSecret(safeDecode(parsed.password));
  return url;
}

function readLibpqEnv(env: NodeJS.ProcessEnv): LibpqSettings {
  const port = env.PGPORT ? Number(env.PGPORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new UsageError(`invalid PGPORT '${env.PGPORT}': expected a port number`);
  }
  if (env.PGHOST?.includes(',')) throw new UsageError(`invalid PGHOST '${env.PGHOST}': it names several hosts, which pg (the driver) does not support: name one host, the primary's`);
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

/**
 * `password=` (or libpq's `sslpassword=`, the client key's passphrase) in a URL's query or a libpq keyword string;
 * group 2 is the value (quoted or up to `&`, `#` or space).
 */
const PASSWORD_PARAM = /(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^&#\s]*)/gi;

/**
 * The password of `scheme://user:password@host...` as written, whatever it holds: the user info ends at the last `@`
 * (an unencoded `@`, `/`, `?` or `#` in a password is common and must not end it early). May over-reach into a
 * query holding an `@`; for masking, taking too much is the safe side.
 */
function passwordOf(url: string): string | undefined {
  const userinfo = (hasSlashes(url) ? USERINFO : BARE_USERINFO).exec(url)?.[1];
  const colon = userinfo?.indexOf(':') ?? -1;
  return userinfo === undefined || colon < 0 ? undefined : userinfo.slice(colon + 1);
}

/**
 * Where a URL's user info is: after `scheme://` (or `//`), to the last `@`; else, as mistyped, after `scheme:/`
 * (`postgres:/u:pw@h`) or from the start (`u:pw@h/db`, a DSN missing its `postgres://`). The user ends at its first
 * `:` and may hold an `@` (Azure's `admin@server`).
 */
const hasSlashes = (url: string) => /^(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(url);
const USERINFO = /^(?:[a-z][a-z0-9+.-]*:)?\/\/(.*)@/is;
const BARE_USERINFO = /^(?:[a-z][a-z0-9+.-]*:\/(?=[^:@/]*:))?(.*)@/is;
const USER_THEN_PASSWORD = /^((?:[a-z][a-z0-9+.-]*:)?\/\/[^:]*):.*@/is;
const BARE_USER_THEN_PASSWORD = /^((?:[a-z][a-z0-9+.-]*:\/)?[^:/]*):.*@/is;

/** Replaces the password of a URL (user info and `password=` parameters) with `***`, also for strings that do not parse. */
export function maskUrl(url: string): string {
  return url.replace(hasSlashes(url) ? USER_THEN_PASSWORD : BARE_USER_THEN_PASSWORD, '$1:***@').replace(PASSWORD_PARAM, '$1***');
}

/**
 * HOST:PORT/DB of the target, from the URL or the libpq variables, with what pg would fill in for the parts left
 * out, never a password. For messages about a connection that was made and then lost.
 */
export function describeAddress(target: ConnectionTarget): string {
  const address = addressOf(target);
  return typeof address === 'string' ? address : `${address.host}:${address.port}/${address.database}`;
}

/**
 * Whether the connection stays on this machine: a unix socket, `localhost`, 127.0.0.0/8 or ::1, so no network carries
 * what TLS would protect. A URL that does not parse is not.
 */
export function isLoopbackTarget(target: ConnectionTarget): boolean {
  const address = addressOf(target);
  if (typeof address === 'string') return false;
  const host = address.host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host.startsWith('/') || host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function addressOf(target: ConnectionTarget): { host: string; port: string | number; database: string } | string {
  const { libpq } = target;
  // Validated when resolved, but a message must not fail for a URL that slipped through: it is then shown masked.
  if (target.url !== undefined && !URL.canParse(target.url)) return maskUrl(target.url);
  const url = target.url === undefined ? undefined : new URL(target.url);
  const param = (name: string) => url?.searchParams.get(name) || undefined;
  const host = (url && safeDecode(url.hostname)) || param('host') || libpq.host || 'localhost';
  const port = url?.port || param('port') || libpq.port || 5432;
  const database = (url && safeDecode(url.pathname.slice(1))) || libpq.database || (url && safeDecode(url.username)) || libpq.user || '';
  return { host, port, database };
}
