import { fromByteString, toByteString } from '../byte-string.js';
import type { AuditEntry } from '../entry.js';
import { maskEntryByteString } from './mask-bytes.js';
import { nameAlternation } from './name-alternation.js';
import { isCertName, isSecretField, MAX_DEPTH, normalizedName, normalizeSecretKey, SECRET_MASK, SSL_RESOURCE_TYPES } from './secret-rules.js';

export { normalizeSecretKey, SECRET_MASK };

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

export function createSecretPolicy(options: SecretPolicyOptions = {}): SecretPolicy {
  const base = options.mode === 'replace' ? [] : DEFAULT_SECRET_KEYS;
  const names = [...base, ...(options.keys ?? [])].map((key) => normalizeSecretKey(key.trim()));
  return { keys: new Set(names.filter((key) => key !== '')) };
}

interface CompiledPolicy {
  keys: ReadonlySet<string>;
  /**
   * Global, for one scan of a row: any quoted name that is a secret wherever it appears, followed by `:`; or,
   * captured as group 1, a quoted `key` or `keys` followed by `:` (unless the policy makes them secret everywhere).
   */
  names: RegExp;
  /**
   * `names` for byte strings (src/byte-string.ts), without the Kelvin sign, which is looked for on its own (its three
   * bytes as the first choice of the pattern made it a third slower); undefined when the policy holds a non-ASCII
   * name, which only decoded text can match.
   */
  byteNames: RegExp | undefined;
}

const compiledPolicies = new WeakMap<SecretPolicy, CompiledPolicy>();

/**
 * What can make a `key` or `keys` a secret: an object holding `cert` or `certs` (SSL), a `key-auth` or `csrf` parent,
 * an SSL resource type (checked as any string value, a superset), or a `\u` escape, which could spell any of them
 * in a value (keys with escapes are {@link hasEscapedKey}'s).
 */
const KEY_CONTEXT = /"(?:certs?|key[-_]auth|csrf)"\s*:|"(?:ssls?|certificates?)"|\\u/iu;


/**
 * Normalizes the names again (a hand-built policy may hold `X-Api-Key`) and precompiles the fast-path RegExps,
 * once per policy object. With {@link hasEscapedKey} and {@link KEY_CONTEXT} they are a superset of what
 * {@link maskSecrets} masks: any quoted secret name followed by `:`; `key` / `keys` only where something in the
 * text can make them secret (`"key": "remote_addr"` of limit-count alone cannot: it no longer costs a parse); or any
 * key holding a backslash, because an escape such as `"pass\u0077ord"` can spell a secret name that no cheap
 * pattern sees; and, for names that `toLowerCase()` maps to ASCII (the Kelvin sign is a `k`), any Kelvin sign, or
 * with non-ASCII names in the policy the `u` flag, whose `i` uses Unicode case folding.
 */
function compile(policy: SecretPolicy): CompiledPolicy {
  const cached = compiledPolicies.get(policy);
  if (cached) return cached;
  const keys = new Set([...policy.keys].map(normalizeSecretKey));
  const contextual = ['key', 'keys'].filter((key) => !keys.has(key));
  // The Kelvin sign is the one character whose toLowerCase() is ASCII (a `k`). With ASCII names only, plain `i`
  // (which never matches it to `k`) does the job a fifth faster than `iu` on 1 KB rows, and a Kelvin sign anywhere
  // counts as a possible secret instead.
  const ascii = [...keys].every((key) => /^[\x20-\x7e]*$/.test(key));
  const flags = ascii ? 'i' : 'iu';
  const kelvin = ascii ? '|\u212A' : '';
  const branches = [...(keys.size > 0 ? [nameAlternation(keys)] : []), ...(contextual.length > 0 ? [`(${nameAlternation(contextual)})`] : [])];
  const quoted = branches.length > 0 ? `"(?:${branches.join('|')})"\\s*:` : '(?!)';
  const compiled = {
    keys,
    names: new RegExp(`${quoted}${kelvin}`, `g${flags}`),
    byteNames: ascii ? new RegExp(quoted, 'gi') : undefined,
  };
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
  const isSsl = ssl || entries.some(([, name]) => isCertName(name));
  // Object.fromEntries defines own properties, so a `__proto__` key stays data instead of changing the prototype.
  return Object.fromEntries(
    entries.map(([key, name, item]) => [key, isSecretField(name, keys, isSsl, parentKey) ? SECRET_MASK : maskNode(item, keys, name, depth + 1)]),
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
  return mayMatch(jsonText, compile(policy).names);
}

function mayMatch(jsonText: string, names: RegExp): boolean {
  // One scan for both kinds of name: a row without either (most rows) is read once, not twice.
  names.lastIndex = 0;
  let contextual = false;
  for (let match = names.exec(jsonText); match; match = names.exec(jsonText)) {
    if (match[1] === undefined) return true;
    contextual = true;
  }
  return hasEscapedKey(jsonText) || (contextual && KEY_CONTEXT.test(jsonText));
}

const QUOTE_OR_BACKSLASH = /["\\]/g;
const SPACE_THEN_COLON = /\s*:/y;

/**
 * Whether some key of the JSON text holds an escape (`"pass\u0077ord":`). A backslash only occurs inside a string,
 * so from each one the scan runs to the string's closing quote and looks for a `:` after it; the next search
 * starts past that string. Linear however many escapes a value holds (a PEM certificate is full of `\n`), and
 * several times faster than a RegExp for the same question, which had to try a match from every quote.
 */
export function hasEscapedKey(text: string): boolean {
  let from = text.indexOf('\\');
  while (from >= 0) {
    let end = -1;
    QUOTE_OR_BACKSLASH.lastIndex = from;
    for (let match = QUOTE_OR_BACKSLASH.exec(text); match; match = QUOTE_OR_BACKSLASH.exec(text)) {
      if (match[0] === '"') {
        end = match.index;
        break;
      }
      QUOTE_OR_BACKSLASH.lastIndex = match.index + 2; // skip the escaped character, whatever it is
    }
    if (end < 0) return false;
    SPACE_THEN_COLON.lastIndex = end + 1;
    if (SPACE_THEN_COLON.test(text)) return true;
    from = text.indexOf('\\', end + 1);
  }
  return false;
}

/**
 * Masks one row of JSON text (an entry object, or any JSON value) and returns it unchanged, byte for byte, when
 * {@link mayHoldSecret} rules secrets out. Otherwise it is parsed, masked and written back compact; numbers beyond
 * 2^53 would then lose precision, as they already do wherever the driver parses jsonb. Invalid JSON throws.
 */
export function maskEntryJson(jsonText: string, policy: SecretPolicy): string {
  if (!mayHoldSecret(jsonText, policy)) return jsonText;
  const parsed: unknown = JSON.parse(jsonText);
  const { keys } = compile(policy);
  // The parsed value is ours alone, so it is masked in place (maskNode's copies cost more than the parse).
  const state = { masked: false };
  if (isPlainObject(parsed) && ('before' in parsed || 'after' in parsed)) {
    const type = typeof parsed.resource_type === 'string' ? normalizeSecretKey(parsed.resource_type) : '';
    const ssl = SSL_RESOURCE_TYPES.has(type);
    if ('before' in parsed) parsed.before = maskInPlace(parsed.before, keys, '', 0, ssl, state);
    if ('after' in parsed) parsed.after = maskInPlace(parsed.after, keys, '', 0, ssl, state);
  } else {
    maskInPlace(parsed, keys, '', 0, false, state);
  }
  // A key that only looked like a secret (`limit-count`'s `"key": "remote_addr"`) leaves the text as it was.
  return state.masked ? JSON.stringify(parsed) : jsonText;
}

/** The Kelvin sign, which lower-cases to an ASCII `k`, in UTF-8. */
const KELVIN_BYTES = '\xE2\x84\xAA';

/**
 * {@link maskEntryJson} for JSON text held as a byte string (src/byte-string.ts): the same string when nothing is to
 * mask. The pre-check reads the bytes as they are: every byte of a multi-byte character is a character of its own
 * at or above U+0080, which no ASCII pattern (a quote, a backslash, a secret name) can match. Text that may hold a
 * secret is scanned as it is (mask-bytes.ts); only what the scanner leaves to the parser is decoded, masked by
 * {@link maskEntryJson} and encoded again. A policy with a non-ASCII name always takes that way.
 */
export function maskEntryBytes(jsonBytes: string, policy: SecretPolicy): string {
  const { byteNames, keys } = compile(policy);
  if (byteNames !== undefined) {
    if (!jsonBytes.includes(KELVIN_BYTES) && !mayMatch(jsonBytes, byteNames)) return jsonBytes;
    const scanned = maskEntryByteString(jsonBytes, keys);
    if (scanned !== undefined) return scanned;
  }
  const json = fromByteString(jsonBytes);
  const masked = maskEntryJson(json, policy);
  return masked === json ? jsonBytes : toByteString(masked);
}

/**
 * {@link maskNode} for a value fresh from JSON.parse, changing it in place: the same rules, and the same result
 * once serialized, without copying every object. Returns the value to store in place of `value`; sets
 * `state.masked` when anything was replaced.
 */
function maskInPlace(value: unknown, keys: ReadonlySet<string>, parentKey: string, depth: number, ssl: boolean, state: { masked: boolean }): unknown {
  if (depth > MAX_DEPTH) {
    state.masked = true;
    return SECRET_MASK;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) value[i] = maskInPlace(value[i], keys, parentKey, depth + 1, false, state);
    return value;
  }
  if (!isPlainObject(value)) return value;
  const names = Object.keys(value);
  let isSsl = ssl;
  for (let i = 0; i < names.length && !isSsl; i += 1) {
    isSsl = isCertName(normalizedName(names[i] as string));
  }
  for (const key of names) {
    const name = normalizedName(key);
    const item = value[key];
    const secret = isSecretField(name, keys, isSsl, parentKey);
    const next = secret ? SECRET_MASK : maskInPlace(item, keys, name, depth + 1, false, state);
    if (secret) state.masked = true;
    if (next === item) continue;
    // defineProperty, not assignment: a `__proto__` key is data here, and assigning to it would set the prototype.
    Object.defineProperty(value, key, { value: next, writable: true, enumerable: true, configurable: true });
  }
  return value;
}
