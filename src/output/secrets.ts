import type { AuditEntry } from '../entry.js';

/** What every secret value becomes, whatever its type, so the output never hints at a length or a structure. */
export const SECRET_MASK = '******';

/**
 * Field names whose value is a secret wherever they appear, compared after {@link normalizeSecretKey}. Beyond the
 * generic names, these are the fields that API7 / APISIX resources and plugins use for credentials.
 */
export const DEFAULT_SECRET_KEYS: readonly string[] = [
  // Generic names.
  'password', 'passwd', 'passphrase', 'secret', 'secret_key', 'client_secret', 'private_key', 'api_key', 'apikey',
  'token', 'access_token', 'refresh_token', 'id_token', 'auth_token', 'session_token', 'service_token',
  // HTTP headers kept in plugin configs (proxy-rewrite, ai-proxy `auth.header`, http-logger `auth_header`).
  'authorization', 'proxy_authorization', 'x_api_key', 'auth_header',
  // AK/SK pairs (aws-lambda `iam.secretkey`, AWS secret manager, tencent-cloud-cls): the access key is an id.
  'secretkey', 'secret_access_key', 'aws_secret_access_key',
  // Private keys: upstream mTLS `tls.client_key`, openid-connect, saml-auth.
  'client_key', 'client_rsa_private_key', 'sp_private_key',
  // Passwords with a prefix: Redis-backed limit-count / limit-conn, LDAP bind, loggly.
  'redis_password', 'sentinel_password', 'bind_password', 'customer_token',
];

/** Parent keys under which a field called `key` is a secret: key-auth credentials, the csrf plugin's signing key. */
const KEY_IS_SECRET_UNDER: ReadonlySet<string> = new Set(['key_auth', 'csrf']);

/** Resource types whose root object is an SSL certificate even when a change carries no `cert` beside its `key`. */
const SSL_RESOURCE_TYPES: ReadonlySet<string> = new Set(['ssl', 'ssls', 'certificate', 'certificates']);

/** Deeper than any real gateway config; past it the rest is masked (fail closed) instead of recursing on. */
const MAX_DEPTH = 200;

/** Which field names are secret. Build it with {@link createSecretPolicy}, which normalizes the names. */
export interface SecretPolicy {
  readonly keys: ReadonlySet<string>;
}

export interface SecretPolicyOptions {
  /** Field names from a config file, in any case, with `-` or `_`. */
  keys?: readonly string[];
  /**
   * `extend` (the default) adds `keys` to {@link DEFAULT_SECRET_KEYS}: a config that lists one extra field cannot
   * unmask the rest by accident. `replace` uses `keys` alone and must be asked for explicitly. Either way the
   * contextual rules (an SSL `key` / `keys`, a key-auth or csrf `key`) always apply.
   */
  mode?: 'extend' | 'replace';
}

/** `X-Api-Key`, `x_api_key` and `X_API-KEY` are the same field: lower case, `-` read as `_`. */
export function normalizeSecretKey(key: string): string {
  return key.toLowerCase().replaceAll('-', '_');
}

export function createSecretPolicy(options: SecretPolicyOptions = {}): SecretPolicy {
  const base = options.mode === 'replace' ? [] : DEFAULT_SECRET_KEYS;
  const names = [...base, ...(options.keys ?? [])].map((key) => normalizeSecretKey(key.trim()));
  return { keys: new Set(names.filter((key) => key !== '')) };
}

interface CompiledPolicy {
  keys: ReadonlySet<string>;
  pattern: RegExp;
}

const compiledPolicies = new WeakMap<SecretPolicy, CompiledPolicy>();

/**
 * Normalizes the names again (a hand-built policy may hold `X-Api-Key`) and precompiles the fast-path RegExp,
 * once per policy object. The RegExp is a superset of what {@link maskSecrets} masks: any quoted secret name, or
 * `key` / `keys` (the contextual rules), followed by `:`; or any key holding a backslash, because an escape such
 * as `"pass\u0077ord"` can spell a secret name that no cheap pattern sees. The `u` flag makes `i` use Unicode
 * case folding, so the pattern also matches names that `toLowerCase()` maps to ASCII (the Kelvin sign is a `k`).
 */
function compile(policy: SecretPolicy): CompiledPolicy {
  const cached = compiledPolicies.get(policy);
  if (cached) return cached;
  const keys = new Set([...policy.keys].map(normalizeSecretKey));
  const names = [...keys, 'key', 'keys'].map((key) =>
    key.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&').replaceAll('_', '[-_]'),
  );
  const named = `"(?:${names.join('|')})"\\s*:`;
  // The first escape is found by `[^"\\]*` alone, so there is one way to match and no backtracking blow-up: the
  // naive `"(?:[^"\\]|\\.)*\\(?:[^"\\]|\\.)*"` took minutes on a PEM certificate full of `\n` escapes.
  const escapedKey = String.raw`"[^"\\]*\\[\s\S](?:[^"\\]|\\[\s\S])*"\s*:`;
  const compiled = { keys, pattern: new RegExp(`${named}|${escapedKey}`, 'iu') };
  compiledPolicies.set(policy, compiled);
  return compiled;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Walks plain objects and arrays only; other values (strings, numbers, a stray Date) are returned as they are. */
function maskNode(value: unknown, keys: ReadonlySet<string>, parentKey: string, depth: number, ssl = false): unknown {
  if (depth > MAX_DEPTH) return SECRET_MASK;
  if (Array.isArray(value)) return value.map((item) => maskNode(item, keys, parentKey, depth + 1));
  if (!isPlainObject(value)) return value;
  const entries = Object.entries(value).map(([key, item]) => [key, normalizeSecretKey(key), item] as const);
  const isSsl = ssl || entries.some(([, name]) => name === 'cert' || name === 'certs');
  const keyIsSecret = isSsl || KEY_IS_SECRET_UNDER.has(parentKey);
  // Object.fromEntries defines own properties, so a `__proto__` key stays data instead of changing the prototype.
  return Object.fromEntries(
    entries.map(([key, name, item]) => {
      const secret = keys.has(name) || (name === 'key' && keyIsSecret) || (name === 'keys' && isSsl);
      return [key, secret ? SECRET_MASK : maskNode(item, keys, name, depth + 1)];
    }),
  );
}

/** A deep copy of a JSON value with every secret replaced by {@link SECRET_MASK}; the input is never mutated. */
export function maskSecrets(value: unknown, policy: SecretPolicy): unknown {
  return maskNode(value, compile(policy).keys, '', 0);
}

type Maskable = Partial<Pick<AuditEntry, 'before' | 'after'>> & { resource_type?: unknown };

function maskEntryFields<T extends Maskable>(entry: T, policy: SecretPolicy): T {
  const { keys } = compile(policy);
  const type = typeof entry.resource_type === 'string' ? normalizeSecretKey(entry.resource_type) : '';
  const ssl = SSL_RESOURCE_TYPES.has(type);
  const masked = { ...entry };
  if ('before' in entry) masked.before = maskNode(entry.before, keys, '', 0, ssl);
  if ('after' in entry) masked.after = maskNode(entry.after, keys, '', 0, ssl);
  return masked;
}

/** The entry with `before` and `after` masked. An SSL resource's root `key` is masked even without a `cert`. */
export function maskEntry(entry: AuditEntry, policy: SecretPolicy): AuditEntry {
  return maskEntryFields(entry, policy);
}

/** Cheap pre-check for the export hot loop: false only when the JSON text certainly holds nothing to mask. */
export function mayHoldSecret(jsonText: string, policy: SecretPolicy): boolean {
  return compile(policy).pattern.test(jsonText);
}

/**
 * Masks one row of JSON text (an entry object, or any JSON value) and returns it unchanged, byte for byte, when
 * {@link mayHoldSecret} rules secrets out. Otherwise it is parsed, masked and written back compact; numbers beyond
 * 2^53 would then lose precision, as they already do wherever the driver parses jsonb. Invalid JSON throws.
 */
export function maskEntryJson(jsonText: string, policy: SecretPolicy): string {
  if (!mayHoldSecret(jsonText, policy)) return jsonText;
  const parsed: unknown = JSON.parse(jsonText);
  if (isPlainObject(parsed) && ('before' in parsed || 'after' in parsed)) {
    return JSON.stringify(maskEntryFields(parsed, policy));
  }
  return JSON.stringify(maskSecrets(parsed, policy));
}
