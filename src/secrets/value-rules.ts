/**
 * Values that are secrets whatever their key: a PEM private key, a JWT, the password in a URL, an `Authorization`,
 * `Cookie` or API-key header written as a `Name: value` line. Each is replaced where it stands; the rest of the
 * text (the URL's host, the header's name) stays readable.
 */

/** Header names whose value is a credential, normalized (lower case, `_` for `-`). */
export const SECRET_HEADER_NAMES: readonly string[] = [
  'authorization', 'proxy_authorization', 'cookie', 'set_cookie', 'x_auth_token', 'x_api_key', 'api_key', 'apikey', 'x_access_token',
];

const HEADER_NAMES = new Set(SECRET_HEADER_NAMES);

/** Whether a string value names a secret header (`{"name": "Authorization", "value": "..."}`); ASCII case only. */
export function isSecretHeaderName(value: string): boolean {
  return value.length < 40 && HEADER_NAMES.has(value.replace(/[A-Z]/g, (char) => char.toLowerCase()).replaceAll('-', '_'));
}

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
/** `scheme://user:PASSWORD@host`: the password runs to the last `@` before a `/` or a space. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)([^/\s]+)@/gi;
const HEADER_LINE = /((?:authorization|cookie|x[-_]auth[-_]token|x[-_]api[-_]key|api[-_]?key|x[-_]access[-_]token)[ \t]*:[ \t]*)([^\r\n]+)/gi;

/**
 * The text with each secret it holds replaced by `mask(secret)`: a PEM private key makes the whole text a secret.
 * Returns the text itself when it holds none.
 */
export function maskSecretsInText(text: string, mask: (secret: string) => string): string {
  if (PEM_PRIVATE_KEY.test(text)) return mask(text);
  let out = text;
  if (out.includes('eyJ')) out = out.replace(JWT, (token) => mask(token));
  if (out.includes('://')) out = out.replace(URL_PASSWORD, (_, head: string, password: string) => `${head}${mask(password)}@`);
  if (out.includes(':')) out = out.replace(HEADER_LINE, (_, head: string, value: string) => `${head}${mask(value)}`);
  return out;
}

/** A string that may hold a JSON object or array (JSON whitespace, then `{` or `[`). */
export const JSON_IN_STRING = /^[ \t\r\n]*[{[]/;

/**
 * Over JSON text: false only when no string in it can hold what {@link maskSecretsInText}, a JSON document in a
 * string, or a secret header's name as a value would mask. A `\u` or `\/` escape could spell any of them: true.
 */
export const MAY_HOLD_SECRET_VALUE = new RegExp(
  [
    'PRIVATE KEY',
    'eyJ[\\w-]*\\.',
    '\\/\\/(?:[^ \\t\\r\\n/"\\\\]|\\\\.)*@',
    '(?:authorization|cookie|x[-_]auth[-_]token|x[-_]api[-_]key|api[-_]?key|x[-_]access[-_]token)(?:[ \\t]|\\\\t)*:',
    '"(?:[ \\t\\r\\n]|\\\\[trn])*[{[]',
    `"[ \\t]*(?:${SECRET_HEADER_NAMES.map((name) => name.replaceAll('_', '[-_]')).join('|')})[ \\t]*"\\s*[,}\\]]`,
    '\\\\[u/]',
  ].join('|'),
  'i',
);
