/** The rules that make a field a secret, shared by the object walkers (secrets.ts) and the byte-string scanner. */

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
 * whose value the object is.
 */
export function isSecretField(name: string, keys: ReadonlySet<string>, ssl: boolean, parentKey: string): boolean {
  return keys.has(name) || (name === 'key' && (ssl || KEY_IS_SECRET_UNDER.has(parentKey))) || (name === 'keys' && ssl);
}

/** Resource types whose root object is an SSL certificate even when a change carries no `cert` beside its `key`. */
export const SSL_RESOURCE_TYPES: ReadonlySet<string> = new Set(['ssl', 'ssls', 'certificate', 'certificates']);

/** Deeper than any real gateway config; past it the rest is masked (fail closed) instead of recursing on. */
export const MAX_DEPTH = 200;

/** `X-Api-Key`, `x_api_key` and `X_API-KEY` are the same field: lower case, `-` read as `_`. */
export function normalizeSecretKey(key: string): string {
  return key.toLowerCase().replaceAll('-', '_');
}

/** Normalized names of the keys seen so far: audit rows repeat the same few hundred keys millions of times. */
const normalizedNames = new Map<string, string>();

export function normalizedName(key: string): string {
  let name = normalizedNames.get(key);
  if (name === undefined) {
    if (normalizedNames.size >= 10_000) normalizedNames.clear();
    name = normalizeSecretKey(key);
    normalizedNames.set(key, name);
  }
  return name;
}
