/**
 * The export's pre-check: one scan of a row's states that says what, if anything, the masking rules must look at.
 * Most exported rows hold no secret; they must cost as little as a scan can. See docs/decisions/003-export-speed.md.
 */
import { COLON, isEscaped, isSpace, openingQuote, QUOTE } from './json-text.js';
import { nameAlternation } from './name-alternation.js';
import { cachedCamelCaseName, camelCaseName, isCertName, isSecretName, normalizedName, normalizeSecretKey, SECRET_LAST_TWO_WORDS, SECRET_LAST_WORDS } from './rules.js';
import { isSecretHeaderName, SECRET_HEADER_NAMES } from './value-rules.js';

/** Nothing in the row can be a secret: it goes out as it is. */
export const NO_HINT = 0;
/** A key named like a secret wherever it stands: masked where it stands. */
export const SECRET_KEY = 1;
/** A key that is secret only in context (`key`, `keys`, a plugin's declared field): its parent or the row decides. */
export const CONTEXTUAL_KEY = 2;
/** A string that may hold a secret value (a URL's password, a header line, a JWT...): the scanner checks strings. */
export const STRING_VALUE = 4;
/** Only the object walkers can decide: a secret's name held as a value, an escaped or non-ASCII name, a Kelvin sign. */
export const WALKERS = 8;
/** A `cert` or `certs` key: an SSL object, whose `key` and `keys` are secrets. Context only, no reason to mask alone. */
export const CERT = 16;

/** What {@link rowHints} needs from a policy, compiled once per policy. */
export interface HintRules {
  /** Global, case-insensitive: one alternation of every hint, measured a fifth faster than a scan for each. */
  readonly pattern: RegExp;
  readonly keys: ReadonlySet<string>;
  readonly contextual: ReadonlySet<string>;
  /** What {@link classifyString} made of each string seen as a key, and as a value: rows repeat a few names. */
  readonly keyKinds: Map<string, number>;
  readonly valueKinds: Map<string, number>;
}

/**
 * Words that end every name or text a rule of value-rules.ts looks for: header lines (`Cookie: ...`), assignments
 * (`?access_token=...`), name/value lists (`{"name": "Authorization"}`) and the secret last words of rules.ts.
 */
const VALUE_WORDS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'key', 'signature', 'sig', 'authorization', 'cookie'];
/** Keys that make their object an SSL object (rules.ts isCertName): found by the same scan, for mask-hits.ts. */
const CERT_WORDS = ['cert', 'certs'];

/** JSON whitespace, raw or escaped in a string. */
const JSON_SPACE = String.raw`(?:[ \t\r\n]|\\[trn])`;

/**
 * Hints beside the names: `PRIVATE KEY` (a PEM block), `eyJ` (a JWT's header), `\u` or `\/` (an escape that can
 * spell any name or value), `//` (a URL: a hit only with an `@` after it in the same string), the Kelvin sign in
 * UTF-8 or decoded (its lower case is an ASCII `k`), a string opening with JSON whitespace then `{` or `[` (JSON in
 * a string), `Bearer` or `Basic` then a space or tab (`\t` in JSON), a string naming a cookie variable.
 */
const FIXED_HINTS = [
  'PRIVATE KEY', 'eyJ', String.raw`\\[u/]`, '//', String.raw`\xE2\x84\xAA|\u212A`,
  // The JSON lead, and a `vars` expression's cookie (isSecretVarName: its name ends in no secret word), under one
  // quote, and the lead's `(?:ws)*` unrolled by its first item: V8 tries each part at every quote of the row, 0.15 µs
  // of a 1 KB row's 1.5 µs. The same matches: the branches start with different characters.
  String.raw`"(?:[{[]|[ \t\r\n]${JSON_SPACE}*[{[]|\\[trn]${JSON_SPACE}*[{[]|cookie_[^"\\]*")`,
  String.raw`b(?:earer|asic)(?:[ \t]|\\t)`,
  // JSON after other text in a string: a bracket, spacing, then a quote, escaped at any level (`{\"`, `[\\\"`).
  String.raw`[{[](?:[ \t]|\\+[trn])*\\+"`,
];

/**
 * The scan's pattern for a policy: one alternation (measured a fifth faster than a scan for each part). Each part is
 * a superset of what some rule masks, so that a row without a match holds nothing to mask. Besides the fixed ones: a word that ends a secret or contextual name, a secret header name
 * or a secret last word, then JSON spacing or an escape (which `trim()` could remove), then the end of a string
 * (`"`), a header line's `:` or an assignment's `=`, in any case. Matching the end of a name rather than the whole
 * of it makes leading junk, camelCase and `-`/`_` spellings hits too; the classifier below then reads the name.
 * `unicode` (for decoded text and a policy with a non-ASCII name) compares in Unicode case folding.
 */
export function compileHintRules(keys: ReadonlySet<string>, contextual: readonly string[], unicode: boolean): HintRules {
  const words = new Set<string>([...VALUE_WORDS, ...CERT_WORDS]);
  // A name's last word, with the `_` (or `-`) it may end in: `pwd_` must be found as `pwd_`, not as nothing.
  const lastWord = (name: string) => {
    const base = name.replace(/_+$/, '');
    return name.slice(base.lastIndexOf('_') + 1);
  };
  const extra: string[] = [];
  for (const name of [...keys, ...contextual, ...SECRET_HEADER_NAMES, ...SECRET_LAST_WORDS, ...SECRET_LAST_TWO_WORDS]) {
    const word = lastWord(name);
    // A name of underscores alone (a site's `-`) would match at every quote as a word: a string of them is its hint.
    if (/^_*$/.test(word)) extra.push(String.raw`"[-_\s]*"`);
    else words.add(word);
    // JSON escapes a quote, a backslash or a control character in a key: a site name holding one is hinted by any escape.
    if ([...name].some((char) => char === '"' || char === '\\' || char < ' ')) extra.push(String.raw`\\.`);
  }
  // A word ending in another word adds no hit: `apikey` ends in `key`.
  const ends = [...words].filter((word) => ![...words].some((other) => other !== word && word.endsWith(other)));
  const nameEnds = `(?:${nameAlternation(ends)})(?:[ \\t\\x80-\\uffff]|\\\\.)*["=:]`;
  return { pattern: new RegExp([nameEnds, ...FIXED_HINTS, ...new Set(extra)].join('|'), unicode ? 'giu' : 'gi'), keys, contextual: new Set(contextual), keyKinds: new Map(), valueKinds: new Map() };
}

/** After `//`, the rest of a URL in one JSON string up to an `@`: a user (and maybe a password) is in it. */
const URL_USER = /(?:[^ \t\r\n"\\]|\\.)*@/y;

/**
 * The hints ({@link SECRET_KEY} | {@link CONTEXTUAL_KEY} | {@link STRING_VALUE} | {@link WALKERS} | {@link CERT}) of
 * a row (a byte string, or decoded text), from `from` (where its states start) on. Stops at the first
 * {@link WALKERS} hit. With `hits`, each hit is pushed as three numbers: its kind, then for a key (a cert too) its
 * opening and closing quotes, for a string value where the match ends (and 0).
 */
export function rowHints(text: string, from: number, rules: HintRules, hits?: number[]): number {
  const { pattern } = rules;
  let hints = NO_HINT;
  pattern.lastIndex = from;
  // test() and lastIndex rather than exec(): no match array for each hit, and the last character tells which hit.
  while (pattern.test(text)) {
    const end = pattern.lastIndex;
    const hit = classify(text, end, rules);
    if (hit === WALKERS) return WALKERS;
    hints |= hit;
    if (hits === undefined || hit === NO_HINT) continue;
    if (hit === STRING_VALUE) hits.push(hit, end - 1, 0);
    else hits.push(hit, classifiedOpen, end - 1);
  }
  return hints;
}

const SLASH = 0x2f;

/** What a match of the pattern ending at `end` asks for, told by its last characters (each part ends its own way). */
function classify(text: string, end: number, rules: HintRules): number {
  const last = text.charCodeAt(end - 1);
  // A name's end: the string closing there (a JSON lead ends in `{` or `[`); an escaped quote closes nothing.
  if (last === QUOTE) return isEscaped(text, end - 1) ? STRING_VALUE : classifyString(text, end - 1, rules);
  if (last === 0x3d || last === 0x3a) return STRING_VALUE; // an assignment's `=`, a header line's `:`
  if (last === SLASH && text.charCodeAt(end - 2) === SLASH) {
    // `//`: a URL holds a user only where an `@` follows in the same string.
    URL_USER.lastIndex = end;
    return URL_USER.test(text) ? STRING_VALUE : NO_HINT;
  }
  if (last === 0xaa || last === 0x212a) return WALKERS; // the Kelvin sign, in UTF-8 or decoded
  return STRING_VALUE; // bearer, basic, PRIVATE KEY, eyJ, an escape, JSON in a string
}

/** The opening quote of the string {@link classifyString} read last: rowHints keeps it with a key's hit. */
let classifiedOpen = -1;

/** A string whose closing quote is at `close`: a key named like a secret, or a secret's name held as a value. */
function classifyString(text: string, close: number, rules: HintRules): number {
  const open = openingQuote(text, close);
  classifiedOpen = open;
  if (open < 0) return WALKERS;
  const content = text.slice(open + 1, close);
  const key = isKey(text, close + 1);
  // The kind depends on the string alone: one look-up instead of a RegExp, two name caches and four Set look-ups.
  const kinds = key ? rules.keyKinds : rules.valueKinds;
  let kind = kinds.get(content);
  if (kind === undefined) {
    kind = key ? classifyKey(content, rules) : classifyValue(content, rules);
    // Names, not free text: a long value is seldom seen twice.
    if (content.length <= 64) {
      if (kinds.size >= 10_000) kinds.clear();
      kinds.set(content, kind);
    }
  }
  return kind;
}

function classifyKey(content: string, rules: HintRules): number {
  // An escape or a byte of a multi-byte character can spell a name the rules read after decoding.
  if (!PRINTABLE_ASCII.test(content)) return WALKERS;
  const name = normalizedName(content);
  const camel = cachedCamelCaseName(content);
  if (isSecretName(name, rules.keys, camel)) return SECRET_KEY;
  if (isCertName(name)) return CERT;
  return rules.contextual.has(name) || (camel !== undefined && rules.contextual.has(camel)) ? CONTEXTUAL_KEY : NO_HINT;
}

function classifyValue(content: string, rules: HintRules): number {
  if (!PRINTABLE_ASCII.test(content)) return WALKERS;
  return isSecretNameValue(content, rules.keys) || isSecretVarName(content, rules.keys) ? WALKERS : NO_HINT;
}

const PRINTABLE_ASCII = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/** Whether the string that closed before `at` is a key: JSON whitespace, then `:`. */
function isKey(text: string, at: number): boolean {
  while (isSpace(text.charCodeAt(at))) at += 1;
  return text.charCodeAt(at) === COLON;
}

/**
 * Whether a string names a secret in a name/value list: a secret header (`Authorization`) or a field named like a
 * secret (`DB_PASSWORD`, `API_TOKEN`, `githubToken`), as environment variables and headers are kept.
 */
export function isSecretNameValue(text: string, keys: ReadonlySet<string>): boolean {
  if (text.length > 64) return false;
  return isSecretHeaderName(text) || isSecretName(normalizeSecretKey(text), keys, camelCaseName(text.trim()));
}

const VAR_NAME = /^(?:http_(.+)|cookie_.+|(?:post_)?arg_(.+))$/i;

/**
 * Whether a string is an APISIX `vars` variable that carries a credential, in an expression like
 * `["http_x_api_key", "==", "..."]`: a request header named like a secret (`http_authorization`, `http_x_api_key`), any
 * cookie (`cookie_session`), or a query or form argument named like a secret (`arg_access_token`).
 */
export function isSecretVarName(text: string, keys: ReadonlySet<string>): boolean {
  if (text.length > 64) return false;
  const match = VAR_NAME.exec(text.trim());
  if (match === null) return false;
  const [, header, argument] = match;
  if (header !== undefined) return isSecretNameValue(header.replaceAll('_', '-'), keys) || isSecretNameValue(header, keys);
  return argument === undefined || isSecretNameValue(argument, keys);
}
