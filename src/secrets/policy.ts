import { createHmac } from 'node:crypto';
import { fromByteString, toByteString } from '../byte-string.js';
import type { AuditEntry } from '../domain.js';
import { statesStart } from '../entry-head.js';
import { contextualPluginFields } from './plugin-paths.js';
import { SECRET_HEADER_NAMES } from './value-rules.js';
import { maskEntryByteString } from './scan-bytes.js';
import { nameAlternation } from './name-alternation.js';
import { CERT, compileHintRules, CONTEXTUAL_KEY, NO_HINT, rowHints, STRING_VALUE, WALKERS, type HintRules } from './row-hints.js';
import { maskAtHits } from './mask-hits.js';
import { camelCaseName, normalizedName, normalizeSecretKey, SECRET_MASK, SSL_RESOURCE_TYPES } from './rules.js';
import { copyJson, isPlainObject, maskStatesInPlace, maskValueInPlace, type Rules } from './walkers.js';
import { stableStringify } from '../output/stable-json.js';

export { normalizeSecretKey, SECRET_MASK };
export { SECRET_HEADER_NAMES };

/**
 * Field names whose value is a secret wherever they appear, compared after {@link normalizeSecretKey} (and a
 * camelCase key by its words too: `clientSecret` is `client_secret`). Beyond the generic names, these are the fields that API7 / APISIX resources
 * and plugins use for credentials; a plugin's declared fields are masked under `plugins.<name>` besides
 * (src/secrets/apisix-fields.ts), even where their name alone (`key`, `headers`) is not a secret.
 */
export const DEFAULT_SECRET_KEYS: readonly string[] = [
  // Generic names.
  'password', 'passwd', 'passphrase', 'secret', 'secret_key', 'client_secret', 'private_key', 'api_key', 'apikey',
  'token', 'access_token', 'refresh_token', 'id_token', 'auth_token', 'session_token', 'service_token',
  'bearer_token', 'app_secret', 'shared_secret', 'signing_key', 'encryption_key', 'secret_fallbacks', 'pem',
  // Plurals, a list or a map of them: `"passwords": ["...", "..."]` was shown whole. `tokens` too (a list of API
  // tokens, fail closed); `max_tokens` and `total_tokens` (AI plugins' counts) are not these names and stay.
  'passwords', 'passphrases', 'secrets', 'api_keys', 'private_keys', 'tokens', 'access_tokens', 'refresh_tokens', 'api_tokens', 'auth_tokens',
  // HTTP headers kept in plugin configs (proxy-rewrite, ai-proxy `auth.header`, http-logger `auth_header`).
  ...SECRET_HEADER_NAMES, 'auth_header',
  // AK/SK pairs (aws-lambda `iam.secretkey`, AWS secret manager, tencent-cloud-cls, sls-logger): the access key is an id.
  'secretkey', 'secret_access_key', 'aws_secret_access_key', 'access_key_secret',
  // Private keys and key files: upstream mTLS `tls.client_key`, openid-connect, saml-auth, google-cloud-logging.
  'client_key', 'client_rsa_private_key', 'sp_private_key', 'service_account_json',
  // Passwords and keys with a prefix: Redis-backed limit-count / limit-conn, LDAP bind, loggly, azure-functions.
  'redis_password', 'sentinel_password', 'bind_password', 'ldap_password', 'customer_token', 'master_apikey',
];

/** Which field names are secret, and what a secret becomes. Build it with {@link createSecretPolicy}. */
export interface SecretPolicy {
  readonly keys: ReadonlySet<string>;
  /** With a key, each secret becomes `******(hmac-sha256:<12 hex>)` of its value instead of `******`. */
  readonly fingerprintKey?: string;
}

export interface SecretPolicyOptions {
  /** Field names from a config file, in any case, with `-` or `_`. */
  keys?: readonly string[];
  /**
   * `extend` (the default) adds `keys` to {@link DEFAULT_SECRET_KEYS}: a config that lists one extra field cannot
   * unmask the rest by accident. `replace` uses `keys` alone and must be asked for explicitly. Either way the
   * contextual rules (an SSL `key` / `keys`, the plugins' declared fields, secret values) always apply.
   */
  mode?: 'extend' | 'replace';
  /** The operator's fingerprint key (API7_AUDIT_FINGERPRINT_KEY or a key file), when fingerprints are asked for. */
  fingerprintKey?: string;
}

export function createSecretPolicy(options: SecretPolicyOptions = {}): SecretPolicy {
  const base = options.mode === 'replace' ? [] : DEFAULT_SECRET_KEYS;
  // A camelCase entry (`partnerSignature`) also names its snake_case reading.
  const names = [...base, ...(options.keys ?? [])].flatMap((key) => [normalizeSecretKey(key.trim()), camelCaseName(key.trim()) ?? '']);
  const keys = new Set(names.filter((key) => key !== ''));
  return options.fingerprintKey === undefined ? { keys } : { keys, fingerprintKey: options.fingerprintKey };
}

/** `hmac-sha256:<first 12 hex>` of a value (a string as it is, anything else as canonical JSON) under `key`. */
export function secretFingerprint(value: unknown, key: string): string {
  const text = typeof value === 'string' ? value : stableStringify(value, 0);
  return `hmac-sha256:${createHmac('sha256', key).update(text, 'utf8').digest('hex').slice(0, 12)}`;
}

interface CompiledPolicy extends Rules {
  /**
   * The one-scan pre-check (row-hints.ts) of byte strings (src/byte-string.ts); undefined when the policy holds a
   * non-ASCII name, which only decoded text can match.
   */
  byteHints: HintRules | undefined;
  /** The same pre-check for decoded text. */
  textHints: HintRules;
  /** What can make a contextual name a secret (see {@link contextPattern}). */
  context: RegExp;
}

const compiledPolicies = new WeakMap<SecretPolicy, CompiledPolicy>();

/**
 * What can make a contextual name a secret: an object holding `cert` or `certs` (SSL), a `key-auth` or `csrf` parent,
 * a plugin that declares such a field, an SSL resource type (checked as any string value, a superset), or a `\u`
 * escape, which could spell any of them.
 */
function contextPattern(plugins: readonly string[], flags: string): RegExp {
  const named = nameAlternation(['cert', 'certs', 'key_auth', 'csrf', ...plugins]);
  // What trim() takes off a name around it: spaces, `\t`-like escapes, any non-ASCII character (or its UTF-8 bytes).
  const pad = String.raw`(?:\s|\\[tnrf]|[\x80-\uffff])*`;
  return new RegExp(`"${pad}(?:${named})${pad}"\\s*:|"${pad}(?:ssls?|certificates?)${pad}"|"${pad}plugins${pad}"\\s*:\\s*\\[|\\\\u`, flags);
}

/**
 * Normalizes the names again (a hand-built policy may hold `X-Api-Key`) and precompiles the pre-checks, once per
 * policy object. Together with the context pattern they are a superset of what {@link maskSecrets} masks: a
 * contextual name (`"key": "remote_addr"` of limit-count) counts only where something in the text can make it
 * secret. The Kelvin sign is the one character whose `toLowerCase()` is ASCII (a `k`): with ASCII names only, plain
 * `i` (which never matches it to `k`) does the job a fifth faster than `iu`, and a Kelvin sign anywhere is a hint.
 */
function compile(policy: SecretPolicy): CompiledPolicy {
  const cached = compiledPolicies.get(policy);
  if (cached) return cached;
  const keys = new Set([...policy.keys].map(normalizeSecretKey));
  const plugin = contextualPluginFields(keys);
  const contextual = [...new Set(['key', 'keys', ...plugin.fields])].filter((key) => !keys.has(key));
  const ascii = [...keys].every((key) => /^[\x20-\x7e]*$/.test(key));
  const { fingerprintKey } = policy;
  const compiled: CompiledPolicy = {
    keys,
    mask: fingerprintKey === undefined ? () => SECRET_MASK : (value) => `${SECRET_MASK}(${secretFingerprint(value, fingerprintKey)})`,
    byteHints: ascii ? compileHintRules(keys, contextual, false) : undefined,
    textHints: compileHintRules(keys, contextual, !ascii),
    context: contextPattern(plugin.plugins, ascii ? 'i' : 'iu'),
  };
  compiledPolicies.set(policy, compiled);
  return compiled;
}

/** A deep copy of a JSON value with every secret replaced by {@link SECRET_MASK}; the input is never mutated. */
export function maskSecrets(value: unknown, policy: SecretPolicy): unknown {
  const copy = { value: copyJson(value, 0) };
  maskValueInPlace(copy, compile(policy), 'value');
  return copy.value;
}

type Maskable = Partial<Pick<AuditEntry, 'before' | 'after'>> & { resource_type?: unknown };

function maskEntryFields<T extends Maskable>(entry: T, policy: SecretPolicy): T {
  const masked = { ...entry };
  if ('before' in entry) masked.before = copyJson(entry.before, 0);
  if ('after' in entry) masked.after = copyJson(entry.after, 0);
  maskStatesInPlace(masked, compile(policy));
  return masked;
}

/** The entry with `before` and `after` masked. An SSL resource's root `key` is masked even without a `cert`. */
export function maskEntry(entry: AuditEntry, policy: SecretPolicy): AuditEntry {
  return maskEntryFields(entry, policy);
}

/** Cheap pre-check: false only when the JSON text (or the raw text of a state that is not JSON) holds nothing to mask. */
export function mayHoldSecret(jsonText: string, policy: SecretPolicy): boolean {
  const { textHints, context } = compile(policy);
  return mayNeedMasking(rowHints(jsonText, 0, textHints), jsonText, context);
}

/** Whether the hints of a text leave anything to mask: a contextual name counts only with its context. */
function mayNeedMasking(hints: number, text: string, context: RegExp): boolean {
  // A cert alone hides nothing; with a contextual name it is the context.
  const found = hints & ~CERT;
  return found !== NO_HINT && (found !== CONTEXTUAL_KEY || (hints & CERT) !== 0 || context.test(text));
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
  return mayHoldSecret(jsonText, policy) ? walkEntryJson(jsonText, policy) : jsonText;
}

/** {@link maskEntryJson} without the pre-check: the text is parsed, masked and, if anything was masked, written back. */
function walkEntryJson(jsonText: string, policy: SecretPolicy): string {
  const parsed: unknown = JSON.parse(jsonText);
  const rules = compile(policy);
  // The parsed value is ours alone, so it is masked in place (copies cost more than the parse).
  const masked = isPlainObject(parsed) && ('before' in parsed || 'after' in parsed) ? maskStatesInPlace(parsed, rules) : maskValueInPlace(parsed, rules);
  // A key that only looked like a secret (`limit-count`'s `"key": "remote_addr"`) leaves the text as it was.
  return masked ? JSON.stringify(parsed) : jsonText;
}

/**
 * {@link maskEntryJson} for JSON text held as a byte string (src/byte-string.ts): the same string when nothing is to
 * mask. The pre-check reads the bytes as they are: every byte of a multi-byte character is a character of its own
 * at or above U+0080, which no ASCII pattern (a quote, a backslash, a secret name) can match. Text that may hold a
 * secret is scanned as it is (scan-bytes.ts); only what the scanner leaves to the parser is decoded, masked by
 * {@link maskEntryJson} and encoded again. A policy with a non-ASCII name always takes that way. `statesFrom`: where
 * `,"before":` starts, if the caller read the head already (src/entry-head.ts); `head.kept` is set when the text before
 * it is as it was.
 */
export function maskEntryBytes(jsonBytes: string, policy: SecretPolicy, statesFrom?: number, head?: { kept: boolean }): string {
  const { byteHints, keys, context, mask } = compiledForBytes(policy);
  if (byteHints !== undefined) {
    // Only the states are read: the head (a quarter to half of a row) is never masked, but for the resource type.
    const from = statesFrom ?? statesStart(jsonBytes);
    const hits = rowHitsScratch;
    // Setting an array's length is a call into the runtime: only when there is something to drop.
    if (hits.length !== 0) hits.length = 0;
    const found = rowHints(jsonBytes, from, byteHints, hits);
    if (found & WALKERS) return walkBytes(jsonBytes, policy);
    // A fingerprint is made from the decoded value of each range.
    const fingerprint = policy.fingerprintKey === undefined ? undefined : fingerprintToken(mask);
    // Most rows that hold a secret say where: their hits decide without reading the rest of the row.
    // Only in the entry query's form: its head holds no state, and a hit's place in the states says what it is.
    const targeted = found === NO_HINT ? jsonBytes : from === 0 ? undefined : maskAtHits(jsonBytes, hits, from, () => isSslEntry(jsonBytes, from), fingerprint);
    if (targeted !== undefined) {
      // Both leave everything before the states as it was.
      if (head !== undefined) head.kept = true;
      return targeted;
    }
    if (!mayNeedMasking(found, jsonBytes, context)) return jsonBytes;
    // Strings are checked one by one only where the row may hold a secret value.
    const scanned = maskEntryByteString(jsonBytes, keys, (found & STRING_VALUE) !== 0, fingerprint);
    if (scanned !== undefined) return scanned;
  }
  return byteHints === undefined ? viaText(jsonBytes, (json) => maskEntryJson(json, policy)) : walkBytes(jsonBytes, policy);
}

/** Where {@link maskEntryBytes} keeps a row's hits: one array for every row, as rows are masked one at a time. */
const rowHitsScratch: number[] = [];

/** The policy {@link maskEntryBytes} compiled last: an export masks every row with one policy (no WeakMap look-up). */
let bytesPolicy: SecretPolicy | undefined;
let bytesCompiled: CompiledPolicy | undefined;

function compiledForBytes(policy: SecretPolicy): CompiledPolicy {
  if (policy !== bytesPolicy || bytesCompiled === undefined) {
    bytesCompiled = compile(policy);
    bytesPolicy = policy;
  }
  return bytesCompiled;
}

/** The walkers on a byte string, without a second pre-check (the byte hints have been read). */
function walkBytes(jsonBytes: string, policy: SecretPolicy): string {
  return viaText(jsonBytes, (json) => walkEntryJson(json, policy));
}

function viaText(jsonBytes: string, masking: (json: string) => string): string {
  const json = fromByteString(jsonBytes);
  const masked = masking(json);
  return masked === json ? jsonBytes : toByteString(masked);
}

/** Whether the entry query's head (before `from`, where its states start) names an SSL resource type; undefined when it cannot be told without decoding. */
function isSslEntry(json: string, from: number): boolean | undefined {
  const at = json.lastIndexOf(RESOURCE_TYPE_KEY, from);
  if (at < 0 || from === 0) return undefined; // not the entry query's form
  const start = at + RESOURCE_TYPE_KEY.length;
  if (json.charCodeAt(start) !== 0x22) return false; // null
  const end = json.indexOf('"', start + 1);
  const type = json.slice(start + 1, end);
  // An escape or a non-ASCII character could spell `ssl` once decoded and trimmed: only the walkers can tell.
  if (end < 0 || !PLAIN_TYPE.test(type)) return undefined;
  return SSL_RESOURCE_TYPES.has(normalizedName(type));
}

const RESOURCE_TYPE_KEY = ',"resource_type":';
const PLAIN_TYPE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/** The JSON text of a secret value in a byte string, as {@link maskInPlace} writes it with fingerprints on. */
function fingerprintToken(mask: Rules['mask']): (token: string) => string {
  return (token) => JSON.stringify(mask(JSON.parse(fromByteString(token)) as unknown));
}
