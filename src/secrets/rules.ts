/** The rules that make a field a secret, shared by the object walkers (policy.ts) and the byte-string scanner. */
import type { PathNode } from './plugin-paths.js';

/** What every secret value becomes, whatever its type, so the output never hints at a length or a structure. */
export const SECRET_MASK = '******';

/** Parent keys under which a field called `key` is a secret: key-auth credentials, the csrf plugin's signing key. */
export const KEY_IS_SECRET_UNDER: ReadonlySet<string> = new Set(['key_auth', 'csrf']);

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
 * Words that make a longer name a secret when it ends in them and the policy holds them as names, whatever comes
 * before (a `_`, a camelCase boundary, or nothing): `db_password`, `adminPassword`, `dbpassword`, `x-api-token`,
 * `githubtoken`, `webhooksecret`, `encryption_key`, `sshprivatekey`. Only the end decides, so `token_ttl`,
 * `password_min_length`, `secret_ref`, `passwordless`, `max_tokens` and `broken` stay readable.
 */
export const SECRET_LAST_WORDS: readonly string[] = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey'];
/** Two words that end a secret name together, with or without the `_` (`private_key`, `privatekey`); never `key` alone. */
export const SECRET_LAST_TWO_WORDS: readonly string[] = ['api_key', 'private_key', 'secret_key', 'signing_key', 'encryption_key'];
/**
 * A normalized name ending in a secret word (group 1: the first of two words). The pre-checks (row-hints.ts,
 * value-rules.ts's SECRET_WORD_END) read a name's end as written: a `_` is allowed between two words, nowhere else.
 */
const SECRET_ENDING = /(?:pass(?:w(?:or)?d|phrase)|secret|token|(api|private|secret|signing|encryption)_?key)$/;
const NO_WORDS: readonly string[] = [];
/** Last letters of the words above: a name ending otherwise is not read any further (most keys). */
const LAST_LETTERS: ReadonlySet<number> = new Set(['d', 'e', 't', 'n', 'y'].map((letter) => letter.charCodeAt(0)));

/**
 * The secret words a normalized name ends in, as the policy names them (`dbpassword` ends in `password`,
 * `openaiapikey` in `apikey` and `api_key`, `sshprivatekey` in `private_key`), or none.
 */
export function secretLastWords(name: string): readonly string[] {
  const match = SECRET_ENDING.exec(name);
  if (match === null) return NO_WORDS;
  const first = match[1];
  if (first === undefined) return [match[0]];
  return first === 'api' ? ['apikey', 'api_key'] : [`${first}_key`];
}

/**
 * Whether a field name is a secret wherever it stands: its normalized name or its camelCase reading is one of
 * `keys`, or it ends in a secret word that `keys` holds ({@link SECRET_LAST_WORDS}).
 */
export function isSecretName(name: string, keys: ReadonlySet<string>, camel?: string): boolean {
  if (keys.has(name) || (camel !== undefined && keys.has(camel))) return true;
  // The normalized name, not the camelCase reading: `dbPassWord` reads `db_pass_word`, but ends in `password`.
  if (!LAST_LETTERS.has(name.charCodeAt(name.length - 1))) return false;
  return cachedLastWords(name).some((word) => keys.has(word));
}

/** {@link secretLastWords}, remembered: the scanner asks it for every key of every row. */
const lastWordsOf = new Map<string, readonly string[]>();
function cachedLastWords(name: string): readonly string[] {
  let words = lastWordsOf.get(name);
  if (words === undefined) {
    if (lastWordsOf.size >= 10_000) lastWordsOf.clear();
    words = secretLastWords(name);
    lastWordsOf.set(name, words);
  }
  return words;
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
