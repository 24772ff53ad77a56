/**
 * Masking where the pre-check's hits are (row-hints.ts), without reading the rest of the row: for the rows whose every
 * hit can be decided where it stands, the same text as the byte scanner (scan-bytes.ts) at a fraction of its cost.
 * A row it cannot decide so goes to the scanner. See docs/decisions/003-export-speed.md.
 */
import { contextualParents } from './plugin-paths.js';
import { CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, isSpace, OPEN_BRACE, OPEN_BRACKET, openingQuote, QUOTE, replaceRanges, stringEnd } from './json-text.js';
import { CERT, CONTEXTUAL_KEY, SECRET_KEY, STRING_VALUE } from './row-hints.js';
import { isCertName, KEY_IS_SECRET_UNDER, MAX_DEPTH, normalizedName } from './rules.js';

/** The item of `plugins` as a list keeps its configuration under these: any declared field may be below them. */
const LIST_CONFIG: ReadonlySet<string> = new Set(['config', 'conf']);
/** The entry's own keys around its states. */
const TOP_LEVEL_NAMES: ReadonlySet<string> = new Set(['before', 'after']);

/**
 * The row with the value of each secret key among `hits` masked (or given to `mask`, for fingerprints), or undefined
 * when a hit cannot be decided where it stands: a contextual key (`key`, `keys`, a plugin's `headers`) whose parent
 * is not a plain key or may be a plugin's declared field; an SSL object's `key` or `keys` whose object cannot be
 * told; a string value that may hold a secret outside every masked value; nesting that could reach the walkers'
 * depth limit. `from` is where the states start, `sslResource` whether the entry's type makes its states' roots SSL
 * objects (undefined: it cannot be told here), asked only when a `key` or `keys` needs it.
 */
export function maskAtHits(text: string, hits: readonly number[], from: number, sslResource: () => boolean | undefined, mask?: (token: string) => string): string | undefined {
  const ssl = new SslObjects(text, hits, from, sslResource);
  const ranges: number[] = [];
  for (let i = 0; i < hits.length; i += 3) {
    const kind = hits[i] as number;
    if (kind !== SECRET_KEY && kind !== CONTEXTUAL_KEY) continue;
    const open = hits[i + 1] as number;
    const close = hits[i + 2] as number;
    // A site's name `before` or `after` also names the entry's states, which only the scanner tells apart.
    if (mayNameState(text, open + 1) && TOP_LEVEL_NAMES.has(normalizedName(text.slice(open + 1, close)))) return undefined;
    if (kind === CONTEXTUAL_KEY) {
      const secret = isContextualSecret(text, open, close, ssl);
      if (secret === undefined) return undefined;
      if (!secret) continue;
    }
    const start = valueStart(text, close + 1);
    if (start < 0) return undefined;
    const end = valueEnd(text, start);
    if (end < 0) return undefined;
    ranges.push(start, end);
  }
  // A string that may hold a secret counts only inside a value masked whole (a PEM block as an SSL key).
  for (let i = 0; i < hits.length; i += 3) {
    if (hits[i] !== STRING_VALUE) continue;
    if (!inside(ranges, hits[i + 1] as number)) return undefined;
  }
  if (ranges.length === 0) return text;
  // The walkers mask everything past MAX_DEPTH; the scanner hands deep rows to them. Fewer brackets cannot nest so deep.
  if (bracketCount(text) >= MAX_DEPTH) return undefined;
  return replaceRanges(text, ranges, mask);
}

/**
 * Whether a key starting at `at` may read `before` or `after` once trimmed and lower-cased: its first letter after
 * spaces is a `b` or an `a` (a hit's key is printable ASCII, where trim() takes spaces only). Spares most hits a slice.
 */
function mayNameState(text: string, at: number): boolean {
  while (text.charCodeAt(at) === 0x20) at += 1;
  const letter = text.charCodeAt(at) | 0x20;
  return letter === 0x61 || letter === 0x62;
}

/** Whether a contextual key is a secret where it stands; undefined when that takes more than its object's place. */
function isContextualSecret(text: string, open: number, close: number, ssl: SslObjects): boolean | undefined {
  const name = normalizedName(text.slice(open + 1, close));
  const brace = enclosingBrace(text, open);
  if (brace < 0) return undefined;
  const parent = keyBefore(text, brace);
  if (name === 'key' && parent !== undefined && KEY_IS_SECRET_UNDER.has(parent)) return true;
  if (name === 'key' || name === 'keys') {
    const isSsl = ssl.holds(brace);
    if (isSsl !== false) return isSsl;
  }
  if (parent === undefined) return undefined;
  // A declared field is a secret only below the part of its path before it (the plugin, for a field of its own).
  if (contextualParents().get(name)?.has(parent) === true || LIST_CONFIG.has(parent)) return undefined;
  return false;
}

/**
 * Which objects of a row are SSL objects, whose `key` and `keys` are secrets (rules.ts): one holding a `cert` or
 * `certs` key, and the root of each state when the entry's type is an SSL resource. Read only when asked.
 */
class SslObjects {
  private certBraces: number[] | undefined;
  private roots: number[] | undefined;

  constructor(
    private readonly text: string,
    private readonly hits: readonly number[],
    private readonly from: number,
    /** Undefined when the type cannot be told without decoding it; read once, when first needed. */
    private readonly readSslResource: () => boolean | undefined,
  ) {}

  private sslResourceRead = false;
  private sslResourceValue: boolean | undefined;

  private get sslResource(): boolean | undefined {
    if (!this.sslResourceRead) {
      this.sslResourceValue = this.readSslResource();
      this.sslResourceRead = true;
    }
    return this.sslResourceValue;
  }

  /** Whether the object opening at `brace` is an SSL object; undefined when that cannot be told. */
  holds(brace: number): boolean | undefined {
    const certs = (this.certBraces ??= this.findCerts());
    if (certs.includes(brace)) return true;
    if (certs.includes(-1)) return undefined; // a cert whose object could not be found
    if (this.sslResource === false) return false;
    const roots = (this.roots ??= this.findRoots());
    if (roots.includes(brace)) return this.sslResource;
    return roots.length === 0 ? undefined : false;
  }

  private findCerts(): number[] {
    const braces: number[] = [];
    for (let i = 0; i < this.hits.length; i += 3) {
      const open = this.hits[i + 1] as number;
      // A cert is a secret too where the site's names say so (secrets.keys: [cert]): it still makes its object SSL.
      const cert = this.hits[i] === CERT || (this.hits[i] === SECRET_KEY && isCertName(normalizedName(this.text.slice(open + 1, this.hits[i + 2] as number))));
      if (cert) braces.push(enclosingBrace(this.text, open));
    }
    return braces;
  }

  /** The `{` of `before` and `after` in the entry query's form (`,"before":{...},"after":{...}}`); none otherwise. */
  private findRoots(): number[] {
    const { text, from } = this;
    if (from === 0 || !text.startsWith(BEFORE_KEY, from)) return [];
    const before = from + BEFORE_KEY.length;
    const beforeEnd = valueEnd(text, before);
    if (beforeEnd < 0 || !text.startsWith(AFTER_KEY, beforeEnd)) return [];
    const after = beforeEnd + AFTER_KEY.length;
    return [before, after].filter((at) => text.charCodeAt(at) === OPEN_BRACE);
  }
}

const BEFORE_KEY = ',"before":';
const AFTER_KEY = ',"after":';

/** The `{` of the object holding the member whose key opens at `at`, or -1 for text that is not plain JSON. */
function enclosingBrace(text: string, at: number): number {
  // Back over the members before this one to the object's `{`.
  for (let members = 0; ; members += 1) {
    at = spaceBefore(text, at - 1);
    const code = text.charCodeAt(at);
    if (code === OPEN_BRACE) return at;
    if (code !== COMMA || members > 64) return -1;
    at = valueBefore(text, spaceBefore(text, at - 1));
    if (at < 0) return -1;
    at = spaceBefore(text, at);
    if (text.charCodeAt(at) !== COLON) return -1;
    at = spaceBefore(text, at - 1);
    if (text.charCodeAt(at) !== QUOTE) return -1;
    at = openingQuote(text, at);
    if (at < 0) return -1;
  }
}

/**
 * The normalized name of the key whose value is the object opening at `brace`, `''` for an object no key holds (the
 * text's root); undefined for an array's item or a name with an escape.
 */
function keyBefore(text: string, brace: number): string | undefined {
  const colon = spaceBefore(text, brace - 1);
  if (text.charCodeAt(colon) !== COLON) return colon < 0 ? '' : undefined;
  const close = spaceBefore(text, colon - 1);
  if (text.charCodeAt(close) !== QUOTE) return undefined;
  const open = openingQuote(text, close);
  if (open < 0) return undefined;
  const key = text.slice(open + 1, close);
  // Remembered: one look-up instead of a RegExp and another (parents repeat as names do).
  let name = parentNames.get(key);
  if (name === undefined) {
    name = PLAIN_KEY.test(key) ? normalizedName(key) : NOT_PLAIN;
    if (key.length <= 64) {
      if (parentNames.size >= 10_000) parentNames.clear();
      parentNames.set(key, name);
    }
  }
  return name === NOT_PLAIN ? undefined : name;
}

const PLAIN_KEY = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
/** {@link keyBefore}'s names by the key's text; {@link NOT_PLAIN} for one with an escape or a non-ASCII byte. */
const parentNames = new Map<string, string>();
const NOT_PLAIN = '\0';

/** Where the value ending at `end` (its last character) starts, minus one; -1 when it cannot be read backwards. */
function valueBefore(text: string, end: number): number {
  const code = text.charCodeAt(end);
  if (code === QUOTE) return openingQuote(text, end) - 1;
  if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
    let depth = 0;
    for (let at = end; at >= 0; at -= 1) {
      const c = text.charCodeAt(at);
      if (c === QUOTE) {
        at = openingQuote(text, at);
        if (at < 0) return -1;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth += 1;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        depth -= 1;
        if (depth === 0) return at - 1;
      }
    }
    return -1;
  }
  // A number, true, false or null.
  let at = end;
  while (at >= 0 && isScalarChar(text.charCodeAt(at))) at -= 1;
  return at === end ? -1 : at;
}

/** Where the value of the key whose closing quote is just before `at` starts (past `:` and spaces), or -1. */
function valueStart(text: string, at: number): number {
  at = spaceAfter(text, at);
  return text.charCodeAt(at) === COLON ? spaceAfter(text, at + 1) : -1;
}

/** Where the value starting at `at` ends (past its last character), as the scanner's skip reads it; -1 if unreadable. */
function valueEnd(text: string, at: number): number {
  const code = text.charCodeAt(at);
  if (code === QUOTE) return stringEnd(text, at) || -1; // 0: the string does not close
  if (code === OPEN_BRACE || code === OPEN_BRACKET) {
    let depth = 0;
    for (let i = at; i < text.length; i += 1) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i = stringEnd(text, i) - 1;
        if (i < 0) return -1;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        depth += 1;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  let end = at;
  while (end < text.length && isScalarChar(text.charCodeAt(end))) end += 1;
  return end === at ? -1 : end;
}

/** Letters, digits, `.`, `+` and `-`: what a JSON number or literal is made of. */
function isScalarChar(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || code === 0x2e || code === 0x2b || code === 0x2d;
}

function spaceBefore(text: string, at: number): number {
  while (at >= 0 && isSpace(text.charCodeAt(at))) at -= 1;
  return at;
}

function spaceAfter(text: string, at: number): number {
  while (at < text.length && isSpace(text.charCodeAt(at))) at += 1;
  return at;
}

function inside(ranges: readonly number[], at: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (at >= (ranges[i] as number) && at < (ranges[i + 1] as number)) return true;
  return false;
}

function bracketCount(text: string): number {
  let count = 0;
  for (let at = text.indexOf('{'); at >= 0; at = text.indexOf('{', at + 1)) count += 1;
  for (let at = text.indexOf('['); at >= 0; at = text.indexOf('[', at + 1)) count += 1;
  return count;
}
