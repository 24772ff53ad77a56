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
  return value.length < 40 && HEADER_NAMES.has(value.trim().replace(/[A-Z]/g, (char) => char.toLowerCase()).replaceAll('-', '_'));
}

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
/**
 * Where a URL's password starts: `scheme://user:`, the user holding anything but `/`, `:` or a space (a raw `@` too,
 * as an e-mail address does). A scheme is read from the start of its run of scheme characters only, so that a long
 * run is read once, not once from each of its characters.
 */
const URL_HEAD = /(?<![a-z0-9+.-])[a-z0-9+.-]*:\/\/([^/\s:]*):/gi;
const WHITESPACE = /\s/g;
/**
 * Digits after the colon, then `/`, `?` or `#`, read as a port: a password in the URL would end in `/` just before an
 * `@` (`https://host:8443/@alice`, `/npm/@scope/pkg`). Any other `@` after a port may end a password (`1234/x@host`).
 */
const PORT_THEN_PATH = /^(\d{1,5})(?=[/?#])(?:[^@]|(?<=\/)@)*(?<=\/)$/;
/** The user of a URL without a password, masked when it looks like a token (`https://ghp_...@github.com`). */
const URL_USER = /((?<![a-z0-9+.-])[a-z0-9+.-]*:\/\/)([^\s/:@?#]+)@/gi;
/**
 * A token as a URL's user: an issuer's prefix (GitHub, GitLab, Slack, OpenAI and Stripe, npm, Hugging Face, PyPI,
 * Atlassian, DigitalOcean, Shopify) or 20 characters or more of a token's alphabet with a digit in them. A name a
 * person or a service account has (`git`, `alice`, `first.last`, `deploy-bot`) stays readable.
 */
const TOKEN_PREFIX = /^(?:gh[pousr]_|github_pat_|gl(?:pat|dt|rt|cbt|ptt|ft|imt|agent|soat|oas)-|xox[a-z]-|sk[-_]|rk_|npm_|hf_|pypi-|ATATT|dop_v1_|shp(?:at|ss|ca|pa)_)./;
const LONG_TOKEN = /^(?=\D*\d)[A-Za-z0-9_\-+=~%]{20,}$/;

function looksLikeToken(user: string): boolean {
  return TOKEN_PREFIX.test(user) || LONG_TOKEN.test(user);
}

function isUrlPort(user: string, password: string): boolean {
  const port = PORT_THEN_PATH.exec(password);
  return port !== null && user !== '' && Number(port[1]) <= 65_535;
}

/**
 * Each URL password in the text masked (and its user, when a token): from the user's `:` to the last `@` before a
 * space, so a raw `/`, `?`, `#` or `@` in it is masked too; what a URL holds between a port and a later `@` is masked
 * with it, as no one can tell where a sloppy password ends. A loop, not one RegExp: each run of text between spaces
 * is searched for its `@` once, however many URLs it holds (a RegExp reads the run again from every `scheme://`).
 */
function maskUrlPasswords(text: string, mask: (secret: string) => string): string {
  let out = '';
  let copied = 0;
  let runEnd = -1;
  let nextAt = -1;
  URL_HEAD.lastIndex = 0;
  for (let head = URL_HEAD.exec(text); head; head = URL_HEAD.exec(text)) {
    const start = head.index + head[0].length;
    if (start >= runEnd) {
      WHITESPACE.lastIndex = start;
      runEnd = WHITESPACE.exec(text)?.index ?? text.length;
    }
    if (nextAt < start) {
      nextAt = text.indexOf('@', start);
      if (nextAt < 0) nextAt = text.length;
    }
    if (nextAt >= runEnd) {
      // No `@` in the rest of this run: no other URL in it holds a password either.
      URL_HEAD.lastIndex = runEnd;
      continue;
    }
    const at = text.lastIndexOf('@', runEnd - 1);
    URL_HEAD.lastIndex = at + 1;
    const user = head[1] as string;
    const password = text.slice(start, at);
    if (isUrlPort(user, password)) continue;
    // A token may be the user, with a password beside it (`https://ghp_...:x-oauth-basic@github.com`).
    out += `${text.slice(copied, start - 1 - user.length)}${looksLikeToken(user) ? mask(user) : user}:${mask(password)}`;
    copied = at;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * `name=value` in a query string, a fragment or a connection string (`?access_token=`, `#access_token=`, `&api_key=`, `password=... dbname=`,
 * `;Password=...;`): a name ending in a secret word or `signature` (`X-Amz-Signature`), or `key`, `sig`; the value runs to `&`, `;`, `#`,
 * a quote or a space (or is quoted). A value already masked is left as it is.
 */
const ASSIGNMENT = /(^|[?&;#\s])((?:[\w.-]*?(?:pass(?:w(?:or)?d|phrase)|secret|token|api[-_]?key|private[-_]?key|secret[-_]?key|signing[-_]?key|encryption[-_]?key|signature)|key|sig)[ \t]*=[ \t]*)(?!\*{6}|"\*{6}")('[^']*'|"[^"]*"|[^&;\s#'"]+)/gi;
/**
 * A YAML (or `.properties`, log) line `name: value` whose bare name ends in a secret word, as ASSIGNMENT reads them
 * (`password: ...`, `  db_password: ...`, `- api_key: ...`), to the line's end; a space after the colon, as YAML has it.
 * A quoted name is a JSON member (json-fragments.ts). `max_tokens: 100` and `token_ttl: 60` stay readable.
 */
const YAML_LINE = /(^|[\r\n])([ \t]*(?:-[ \t]+)?[\w.-]*?(?:pass(?:w(?:or)?d|phrase)|secret|token|api[-_]?key|private[-_]?key|secret[-_]?key|signing[-_]?key|encryption[-_]?key)[ \t]*:[ \t]+)(?!\*{6}|"\*{6}")([^\r\n]+)/gi;
/** The same in a YAML flow mapping or a JavaScript object literal (`{user: app, password: ...}`), to a `,` or `}`. */
const FLOW_PAIR = /([{,][ \t]*)([\w.-]*?(?:pass(?:w(?:or)?d|phrase)|secret|token|api[-_]?key|private[-_]?key|secret[-_]?key|signing[-_]?key|encryption[-_]?key)[ \t]*:[ \t]+)(?!\*{6}|"\*{6}")("[^"\r\n]*"|'[^'\r\n]*'|[^,}\r\n]+)/gi;
/** What YAML_LINE and FLOW_PAIR need in a text: a test first, as most strings with a `:` hold no such name. */
const YAML_NAME = /(?:pass(?:w(?:or)?d|phrase)|secret|token|key)[ \t]*:[ \t]/i;
/**
 * `Bearer <token>` or `Basic <credentials>` in free text, one pass for both: a bearer token68 of at least 8 characters
 * holding a digit (`Bearer tokens` stays), Basic's base64 when it decodes to printable `user:password` (`Basic
 * authentication` stays).
 */
const SCHEME_WORD = /b(?:earer|asic)[ \t]/i;
const SCHEME_TOKEN = /\b((bearer|basic)[ \t]+)([A-Za-z0-9._~+/-]{4,}=*)/gi;

function isSchemeCredential(scheme: string, token: string): boolean {
  if (scheme.length === 6) return token.length >= 8 && /\d/.test(token);
  return /^[A-Za-z0-9+/]+=*$/.test(token) && /^[\x20-\x7e]*:[\x20-\x7e]*$/.test(Buffer.from(token, 'base64').toString('latin1'));
}
/** What each header rule below starts with: one test instead of three replaces for most strings with a `:`. */
const HEADER_NAME = /(?:authorization|cookie|token|key)[ \t]*:/i;
const HEADER_HEAD = String.raw`[ \t]*(?:(?:authorization|proxy[-_]authorization|(?:set[-_])?cookie|x[-_]auth[-_]token|x[-_]api[-_]key|x[-_]access[-_]token)[ \t]*:[ \t]*|api[-_]?key[ \t]*:[ \t]+)`;
/**
 * `Name: value` at the start of the text or of a line, to the line's end (`Cookie:sid=1` too, as clients send it); a
 * bare `apikey` needs a space after the colon, as HTTP writes it: an operator named `apikey:ci-deployer` is not a header.
 */
const HEADER_LINE = new RegExp(`(^|[\\r\\n])(${HEADER_HEAD})([^\\r\\n]+)`, 'gi');
/** The same after a quote, to the closing quote: `curl -H "Authorization: Basic ..." -H 'Cookie: ...'`. */
const QUOTED_HEADER = new RegExp(`(["'])(${HEADER_HEAD})((?:(?!\\1)[^\\r\\n])+)`, 'gi');
/**
 * The same inside a line, after a space, a bracket, a `,` or a `;` (a log line's `headers: Cookie: sid=...`), to the
 * line's end or a quote, when the value reads as a credential: an authorization scheme, or a first word holding a
 * digit or `=`. A sentence that names a header (`no Authorization: here`) stays readable.
 */
const HEADER_IN_LINE = new RegExp(
  `([ \\t({[,;])(${HEADER_HEAD})((?:(?:basic|bearer|digest|negotiate|ntlm|token|hawk|aws4-hmac-sha256)[ \\t]|[^\\s"']*[\\d=])[^\\r\\n"']*)`,
  'gi',
);

/**
 * The text with each secret it holds replaced by `mask(secret)`: a PEM private key makes the whole text a secret.
 * Returns the text itself when it holds none.
 */
export function maskSecretsInText(text: string, mask: (secret: string) => string): string {
  if (PEM_PRIVATE_KEY.test(text)) return mask(text);
  let out = text;
  if (out.includes('eyJ')) out = out.replace(JWT, (token) => mask(token));
  if (out.includes('://')) {
    out = maskUrlPasswords(out, mask);
    out = out.replace(URL_USER, (url: string, scheme: string, user: string) => (looksLikeToken(user) ? `${scheme}${mask(user)}@` : url));
  }
  if (out.includes(':') && HEADER_NAME.test(out)) {
    const header = (_: string, start: string, head: string, value: string) => `${start}${head}${mask(value)}`;
    out = out.replace(QUOTED_HEADER, header).replace(HEADER_LINE, header).replace(HEADER_IN_LINE, header);
  }
  if (out.includes('=')) out = out.replace(ASSIGNMENT, (_, start: string, head: string, value: string) => `${start}${head}${mask(value)}`);
  if (out.includes(':') && YAML_NAME.test(out)) {
    const pair = (_: string, start: string, head: string, value: string) => `${start}${head}${mask(value)}`;
    out = out.replace(YAML_LINE, pair).replace(FLOW_PAIR, pair);
  }
  // A test first: replace() with a global RegExp costs more than test() on the many short strings (ids, hosts).
  if (out.length > 9 && SCHEME_WORD.test(out)) out = out.replace(SCHEME_TOKEN, (match: string, head: string, scheme: string, token: string) => (isSchemeCredential(scheme, token) ? `${head}${mask(token)}` : match));
  return out;
}

/** A string that may hold a JSON object or array (JSON whitespace, then `{` or `[`). */
export const JSON_IN_STRING = /^[ \t\r\n]*[{[]/;

const SPACE = '(?:[ \\t]|\\\\t)';
/** What may be secret inside one JSON string, written as JSON text (escaped), from its opening quote. */
const IN_STRING = [
  'PRIVATE KEY',
  'eyJ[\\w-]*\\.',
  '\\/\\/(?:[^ \\t\\r\\n"\\\\]|\\\\.)*@',
  // A header anywhere in the string (HEADER_LINE reads it after a space, a bracket or a quote too).
  `(?:(?:authorization|proxy[-_]authorization|cookie|x[-_]auth[-_]token|x[-_]api[-_]key|x[-_]access[-_]token)${SPACE}*:|api[-_]?key${SPACE}*:${SPACE})`,
  '"(?:[ \\t\\r\\n]|\\\\[trn])*[{[]',
  // A JSON member in a string that is not a document (`log {"password": ...}`): an escaped quote, then its `:`.
  '\\\\"(?:[ \\t]|\\\\[trn])*:',
  // A JSON document after other text (`env: [{"name": ...}]`), at any level of escaping: a bracket, then a quote.
  '[{[](?:[ \\t]|\\\\+[trn])*\\\\+"',
  '\\\\[u/]',
  `(?:pass(?:w(?:or)?d|phrase)|secret|token|key|sig(?:nature)?)${SPACE}*=`,
  // A YAML line's `password: ...` (YAML_LINE).
  `(?:pass(?:w(?:or)?d|phrase)|secret|token|key)${SPACE}*:${SPACE}`,
  `(?:bearer|basic)${SPACE}`,
];
const HEADER_NAME_VALUE = `"(?:${SECRET_HEADER_NAMES.map((name) => name.replaceAll('_', '[-_]')).join('|')})[ \\t]*"`;

/**
 * Over JSON text: false only when no string in it can hold what {@link maskSecretsInText}, a JSON document in a
 * string, or a secret header's name as a value would mask. A `\u` or `\/` escape could spell any of them: true.
 * The export's pre-check is row-hints.ts; this and {@link STRING_MAY_HOLD_SECRET} are the byte scanner's rule for
 * one string.
 */
export const MAY_HOLD_SECRET_VALUE = new RegExp([...IN_STRING, `${HEADER_NAME_VALUE}\\s*[,}\\]]`].join('|'), 'i');

/** {@link MAY_HOLD_SECRET_VALUE} for one JSON string token (its quotes included), as the byte scanner reads it. */
// The last alternative: a value ending in a secret word (`{"name": "DB_PASSWORD", ...}`), the walkers' to decide.
export const STRING_MAY_HOLD_SECRET = new RegExp([...IN_STRING, `^${HEADER_NAME_VALUE}$`, '(?:sswo?r?d|ssphrase|ecret|oken|[ietgn][-_]?key)[ \\t]*"$'].join('|'), 'i');
