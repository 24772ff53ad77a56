/**
 * JSON inside a string that is not itself a JSON document: `env: [{"name": "DB_PASSWORD", "value": "v"}]`, `prefix
 * {"password": "v"} suffix`, a bare `"token": "v"`, a log line holding a request body, NDJSON, a stringified object
 * escaped once more (`{\"secret\":\"v\"}`). Each document that parses is masked as a whole one is, with its context
 * (walkers.ts). Elsewhere there is no context to trust, so a member is masked when its name is a secret name or a
 * contextual one (`key`, `keys`, a plugin's declared field), as in a text state that is not JSON
 * (src/output/invalid-states.ts).
 */

/** What a fragment is masked by: the walkers' rules for a name, a value, and a whole document (undefined: nothing masked). */
export interface FragmentRules {
  isSecret: (name: string) => boolean;
  mask: (value: unknown) => string;
  maskDocument: (value: unknown) => unknown;
}

/**
 * `"name"` then `:`, JSON whitespace around it; the name's content is group 1. At most 128 characters: unbounded, a
 * run of `\"` (a string escaped once more) was read to its end from each quote, 1.1 s for 50,000 characters.
 */
const MEMBER = /"((?:[^"\\]|\\.){0,128})"[ \t\r\n]*:[ \t\r\n]*/g;
/** A string escaped once more holds `\"`: its members are read after one level of JSON escapes is decoded. */
const ESCAPED_QUOTE = '\\"';
/** Levels of escaping read: a stringified object inside a stringified object inside a string. */
const MAX_LEVELS = 3;
const SCALAR_END = /[,}\]\s]/g;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A view of the text: `text` decoded some levels of escapes, `map` each of its positions in the original (and its end). */
interface View {
  text: string;
  map: number[] | undefined;
  level: number;
}

interface Range {
  start: number;
  end: number;
  replacement: string;
}

/**
 * The text with each JSON document in it masked by `rules.maskDocument`, and outside them the value of each member
 * whose name `rules.isSecret` (given the decoded name) replaced by `rules.mask` of it, each written back at its level
 * of escaping. Returns the text itself when nothing is masked. Callers check for a `"` first: without one neither a
 * document that may hold a secret nor a member can be there.
 */
export function maskJsonFragments(text: string, rules: FragmentRules): string {
  const ranges: Range[] = [];
  // The spans of the documents found, in original positions: one list for each level.
  const documents: number[][] = [];
  let view: View | undefined = { text, map: undefined, level: 0 };
  while (view !== undefined) {
    documents.push(findDocuments(view, rules, ranges, documents));
    findMembers(view, rules, ranges, documents);
    view = view.level + 1 < MAX_LEVELS && view.text.includes(ESCAPED_QUOTE) ? decodeLevel(view) : undefined;
  }
  return ranges.length === 0 ? text : replaceMerged(text, ranges);
}

/** Where a document may start: a bracket, JSON spacing, then a string, a bracket or the end of an empty one. */
const DOCUMENT_START = /[{[][ \t\r\n]*["{[\]}]/g;
/** Brackets that did not open a document, per view, before the search stops: each costs a read to the text's end. */
const MAX_FAILED_DOCUMENTS = 16;

/**
 * The spans (original positions, in order) of the view's documents that parse, outside those of lower levels; each is
 * masked in `ranges` when the walkers mask anything in it.
 */
function findDocuments(view: View, rules: FragmentRules, ranges: Range[], lower: readonly (readonly number[])[]): number[] {
  const { text } = view;
  const spans: number[] = [];
  let failed = 0;
  DOCUMENT_START.lastIndex = 0;
  for (let start = DOCUMENT_START.exec(text); start && failed < MAX_FAILED_DOCUMENTS; start = DOCUMENT_START.exec(text)) {
    if (lower.length !== 0 && inDocument(lower, at(view, start.index))) continue;
    const end = bracketEnd(text, start.index);
    // Unclosed, it cannot parse: JSON.parse of 200,000 `[` took 30 ms to say so.
    const value = end < 0 ? NOT_JSON : readValue(text.slice(start.index, end), NOT_JSON);
    if (value === NOT_JSON) {
      failed += 1;
      DOCUMENT_START.lastIndex = start.index + 1;
      continue;
    }
    DOCUMENT_START.lastIndex = end;
    spans.push(at(view, start.index), at(view, end));
    const masked = rules.maskDocument(value);
    if (masked !== undefined) ranges.push({ start: at(view, start.index), end: at(view, end), replacement: encodeLevels(JSON.stringify(masked), view.level) });
  }
  return spans;
}

/**
 * Whether the original position lies inside a document found (its context decided what is secret there). Each
 * level's spans are in order and apart: a binary search in each.
 */
function inDocument(documents: readonly (readonly number[])[], position: number): boolean {
  for (const spans of documents) {
    let low = 0;
    let high = spans.length / 2 - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (position < (spans[2 * middle] as number)) high = middle - 1;
      else if (position >= (spans[2 * middle + 1] as number)) low = middle + 1;
      else return true;
    }
  }
  return false;
}

function findMembers(view: View, rules: FragmentRules, ranges: Range[], documents: readonly (readonly number[])[]): void {
  const { text } = view;
  MEMBER.lastIndex = 0;
  for (let member = MEMBER.exec(text); member; member = MEMBER.exec(text)) {
    const start = MEMBER.lastIndex;
    if (start >= text.length || !rules.isSecret(decodeString(member[1] as string))) continue;
    if (inDocument(documents, at(view, member.index))) continue;
    const end = valueEnd(text, start);
    MEMBER.lastIndex = end;
    const value = readValue(text.slice(start, end));
    ranges.push({ start: at(view, start), end: at(view, end), replacement: encodeLevels(JSON.stringify(rules.mask(value)), view.level) });
  }
}

function at(view: View, index: number): number {
  return view.map === undefined ? index : (view.map[index] as number);
}

/** Where the JSON value starting at `start` ends: a string, an object or array (balanced), or a scalar; unclosed: the end. */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return stringEnd(text, start);
  if (first === 0x7b || first === 0x5b) {
    const end = bracketEnd(text, start);
    return end < 0 ? text.length : end;
  }
  SCALAR_END.lastIndex = start;
  return SCALAR_END.exec(text)?.index ?? text.length;
}

/** Past the quote closing the string opening at `start`, or the text's end. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i += 1;
    else if (code === QUOTE) return i + 1;
  }
  return text.length;
}

/** Past the bracket closing the one at `start` (strings skipped), or -1 when none does. */
function bracketEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) i = stringEnd(text, i) - 1;
    else if (code === 0x7b || code === 0x5b) depth += 1;
    else if ((code === 0x7d || code === 0x5d) && (depth -= 1) === 0) return i + 1;
  }
  return -1;
}

const NOT_JSON = Symbol('not JSON');

/** A value's JSON text parsed (what a fingerprint is made of), or `otherwise` (the text itself) when it does not parse. */
function readValue(token: string, otherwise: unknown = token): unknown {
  try {
    return JSON.parse(token) as unknown;
  } catch (error) {
    if (error instanceof SyntaxError) return otherwise;
    throw error;
  }
}

/**
 * A name's content with its `\uXXXX`, `\/`, `\"` and `\\` escapes decoded (`pass\u0077ord` is `password`). An
 * escaped space (`\t`, `\n`) stays as written: the pre-check (row-hints.ts) reads one level of escapes around a
 * name, and a fragment's name is a level deeper, where `password\n` would be masked here and nowhere else.
 */
function decodeString(content: string): string {
  return content.includes('\\') ? content.replace(NAME_ESCAPE, decodeEscape) : content;
}

/** The escapes {@link decodeString} and {@link decodeLevel} decode: those every pre-check reads as an escape. */
const NAME_ESCAPE = /\\(?:u([0-9a-fA-F]{4})|(["\\/]))/g;
function decodeEscape(_: string, hex: string | undefined, char: string | undefined): string {
  return hex === undefined ? (char as string) : String.fromCharCode(Number.parseInt(hex, 16));
}

/** `text` as a JSON string's content, `levels` times over: how a `"******"` is written at a member's level. */
function encodeLevels(text: string, levels: number): string {
  let out = text;
  for (let i = 0; i < levels; i += 1) out = JSON.stringify(out).slice(1, -1);
  return out;
}

// Not `\n`, `\t`...: a decoded space between a name and its `:` is one the pre-checks cannot see (decodeString).
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/' };
const HEX4 = /^[0-9a-fA-F]{4}$/;

/** The view with one level of JSON escapes decoded (but spaces, see ESCAPES), each character mapped to where it starts. */
function decodeLevel(view: View): View {
  const { text } = view;
  let out = '';
  const map: number[] = [];
  for (let i = 0; i < text.length; i += 1) {
    map.push(at(view, i));
    const next = text[i + 1];
    if (text.charCodeAt(i) !== BACKSLASH || next === undefined) {
      out += text[i];
    } else if (next === 'u' && HEX4.test(text.slice(i + 2, i + 6))) {
      out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      out += ESCAPES[next] ?? `\\${next}`;
      if (ESCAPES[next] === undefined) map.push(at(view, i + 1));
      i += 1;
    }
  }
  map.push(at(view, text.length));
  return { text: out, map, level: view.level + 1 };
}

/** The text with each range replaced; a range overlapping an earlier one extends it (the earlier replacement stays). */
function replaceMerged(text: string, ranges: Range[]): string {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let out = '';
  let from = 0;
  let current: Range | undefined;
  for (const range of sorted) {
    if (current !== undefined && range.start < current.end) {
      current.end = Math.max(current.end, range.end);
      continue;
    }
    if (current !== undefined) {
      out += text.slice(from, current.start) + current.replacement;
      from = current.end;
    }
    current = { ...range };
  }
  if (current !== undefined) out += text.slice(from, current.start) + current.replacement;
  return out + text.slice(current === undefined ? 0 : current.end);
}
