/** The rules that make a field a secret, shared by the object walkers (policy.ts) and the byte-string scanner. */
import type { PathNode } from './plugin-paths.js';

/** What every secret value becomes, whatever its type, so the output never hints at a length or a structure. */
export const SECRET_MASK = '******';

/** Parent keys under which a field called `key` is a secret: key-auth credentials, the csrf plugin's signing key. */
const KEY_IS_SECRET_UNDER: ReadonlySet<string> = new Set(['key_auth', 'csrf']);

/** `cert` and `certs` make the object holding them an SSL object, whose `key` and `keys` are secrets. */
export function isCertName(name: string): boolean {
  return name === 'cert' || name === 'certs';
}

/**
 * Whether a field is a secret, by its normalized name and where it stands: `ssl` when its object is an SSL object
 * (holds `cert` or `certs`, or is the root state of an SSL resource), `parentKey` the normalized name of the field
 * whose value the object is, `path` the field's node among the plugins' declared secret paths (plugin-paths.ts),
 * `camel` its {@link camelCaseName}.
 */
export function isSecretField(name: string, keys: ReadonlySet<string>, ssl: boolean, parentKey: string, path: PathNode | undefined, camel?: string): boolean {
  return isSecretName(name, keys, camel) || path?.leaf === true || (name === 'key' && (ssl || KEY_IS_SECRET_UNDER.has(parentKey))) || (name === 'keys' && ssl);
}

/**
 * Last words (and last two words) that make a longer name a secret when the policy holds them as names:
 * `db_password`, `adminPassword`, `x-api-token`, `webhook_secret`, `encryption_key`. Only the last words decide,
 * so `token_ttl`, `password_min_length` and `secret_ref` stay readable.
 */
export const SECRET_LAST_WORDS: readonly string[] = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey'];
export const SECRET_LAST_TWO_WORDS: readonly string[] = ['api_key', 'private_key', 'secret_key', 'signing_key', 'encryption_key'];
const LAST_WORDS: ReadonlySet<string> = new Set(SECRET_LAST_WORDS);
const LAST_TWO_WORDS: ReadonlySet<string> = new Set(SECRET_LAST_TWO_WORDS);

/** The secret word a normalized name ends in after a `_` (`db_password` ends in `password`), or undefined. */
export function secretLastWords(name: string): string | undefined {
  const last = name.lastIndexOf('_');
  if (last < 0) return undefined;
  const word = name.slice(last + 1);
  if (LAST_WORDS.has(word)) return word;
  const two = name.slice(name.lastIndexOf('_', last - 1) + 1);
  return LAST_TWO_WORDS.has(two) ? two : undefined;
}

/**
 * Whether a field name is a secret wherever it stands: its normalized name or its camelCase reading is one of
 * `keys`, or ends in a secret word that `keys` holds ({@link SECRET_LAST_WORDS}).
 */
export function isSecretName(name: string, keys: ReadonlySet<string>, camel?: string): boolean {
  if (keys.has(name) || (camel !== undefined && keys.has(camel))) return true;
  const words = camel ?? name;
  return words.includes('_') && keys.has(cachedLastWords(words));
}

/** {@link secretLastWords}, remembered, `''` for none (never a key): the scanner asks it for every key of every row. */
const lastWordsOf = new Map<string, string>();
function cachedLastWords(name: string): string {
  let tail = lastWordsOf.get(name);
  if (tail === undefined) {
    if (lastWordsOf.size >= 10_000) lastWordsOf.clear();
    tail = secretLastWords(name) ?? '';
    lastWordsOf.set(name, tail);
  }
  return tail;
}

/** Resource types whose root object is an SSL certificate even when a change carries no `cert` beside its `key`. */
export const SSL_RESOURCE_TYPES: ReadonlySet<string> = new Set(['ssl', 'ssls', 'certificate', 'certificates']);

/** Deeper than any real gateway config; past it the rest is masked (fail closed) instead of recursing on. */
export const MAX_DEPTH = 200;

/** `X-Api-Key`, `x_api_key`, `X_API-KEY` and `X-Api-Key ` are the same field: lower case, `-` read as `_`, trimmed. */
export function normalizeSecretKey(key: string): string {
  return key.trim().toLowerCase().replaceAll('-', '_');
}

/**
 * The camelCase reading of a key, normalized (`clientRSAPrivateKey` is `client_rsa_private_key`), or undefined when
 * it reads no differently from {@link normalizeSecretKey}: a field is a secret under either name.
 */
export function camelCaseName(key: string): string | undefined {
  const split = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2');
  return split === key ? undefined : normalizeSecretKey(split);
}

/** Normalized names of the keys seen so far: audit rows repeat the same few hundred keys millions of times. */
const normalizedNames = new Map<string, string>();
const camelCaseNames = new Map<string, string | undefined>();

/** {@link camelCaseName}, remembered. */
export function cachedCamelCaseName(key: string): string | undefined {
  if (camelCaseNames.has(key)) return camelCaseNames.get(key);
  if (camelCaseNames.size >= 10_000) camelCaseNames.clear();
  const name = camelCaseName(key);
  camelCaseNames.set(key, name);
  return name;
}

export function normalizedName(key: string): string {
  let name = normalizedNames.get(key);
  if (name === undefined) {
    if (normalizedNames.size >= 10_000) normalizedNames.clear();
    name = normalizeSecretKey(key);
    normalizedNames.set(key, name);
  }
  return name;
}
