import { CANONICAL_FIELDS, type ExportFields } from './domain.js';

/**
 * The head of an entry's JSON text as the export query writes it: the canonical fields before `before`, compact, in
 * that order, each plain one a JSON string or null, then `,"before":`. A masked row written again by JSON.stringify
 * keeps that form. Read here by position, without parsing and without allocating: the export's record (src/queries/
 * export-record.ts) slices its tokens from it, and HEC copies them from the text into its body in place.
 */

/** The canonical fields before `before`, in the order the export query writes them. */
export const HEAD_FIELDS = CANONICAL_FIELDS.slice(0, CANONICAL_FIELDS.indexOf('before')) as readonly HeadField[];
export type HeadField = 'id' | 'timestamp' | 'resource_name' | keyof ExportFields;

/** What precedes each value in compact JSON: `{"id":`, then `,"timestamp":` and so on. */
const HEAD_KEYS = HEAD_FIELDS.map((field, index) => `${index === 0 ? '{' : ','}${JSON.stringify(field)}:`);
const BEFORE_KEY = ',"before":';

/** Where each head field's token lies: start at `2 × index`, end (exclusive) at `2 × index + 1` (after a base). */
export type HeadBounds = Int32Array;

/** Numbers a head's bounds take: `headBounds(n)` holds n heads, the k-th from `k × HEAD_BOUNDS_LENGTH`. */
export const HEAD_BOUNDS_LENGTH = HEAD_FIELDS.length * 2;

export function headBounds(heads = 1): HeadBounds {
  return new Int32Array(HEAD_BOUNDS_LENGTH * heads);
}

/** The index of `field` in {@link HEAD_FIELDS}, for reading {@link HeadBounds}. */
export function headIndex(field: HeadField): number {
  return HEAD_FIELDS.indexOf(field);
}

/**
 * Fills `bounds` with where each head token of `json` lies: each key where it must be, each value up to its closing
 * quote, from `base` on in `bounds`. False for text in another form (the caller parses it whole). Reads no further
 * than `,"before":`, where the last token ends.
 *
 * `wholeKeys` false checks each key's frame only: its length, quotes and colon, its first and last letters and the
 * fourth from last (`resource_type` and `resource_name` differ there alone). Every text the export handles is in the
 * query's form or in none (the server's, a masked copy, JSON.stringify of the parsed entry): a spacing, an order or a
 * field of another kind fails the frame as it fails the whole key (test/unit/hec-event-head.test.ts); only a key renamed
 * in place to one of its length with those letters would pass, and nothing renames keys. HEC reads every
 * event's head this way (half the time: comparing the keys' hundred-odd characters was 0.2 µs a row); the positions a
 * checkpoint records keep the whole comparison.
 */
export function readHeadBounds(json: string, bounds: HeadBounds, wholeKeys = true, base = 0): boolean {
  let pos = 0;
  for (let index = 0; index < HEAD_KEYS.length; index += 1) {
    const key = HEAD_KEYS[index] as string;
    const start = pos + key.length;
    const framed = wholeKeys
      ? startsWithAt(json, key, pos)
      : json.charCodeAt(pos) === key.charCodeAt(0) && json.charCodeAt(pos + 1) === QUOTE && json.charCodeAt(pos + 2) === key.charCodeAt(2)
        && json.charCodeAt(start - 6) === key.charCodeAt(key.length - 6) && json.charCodeAt(start - 3) === key.charCodeAt(key.length - 3)
        && json.charCodeAt(start - 2) === QUOTE && json.charCodeAt(start - 1) === COLON;
    const end = framed ? tokenEnd(json, start) : -1;
    if (end < 0) return false;
    bounds[base + 2 * index] = start;
    bounds[base + 2 * index + 1] = end;
    pos = end;
  }
  return startsWithAt(json, BEFORE_KEY, pos);
}

/** `json.startsWith(key, at)` for the head's short keys: compared here, a call of the builtin cost more than the loop. */
function startsWithAt(json: string, key: string, at: number): boolean {
  for (let i = 0; i < key.length; i += 1) if (json.charCodeAt(at + i) !== key.charCodeAt(i)) return false;
  return true;
}

/** Where the JSON string or `null` starting at `start` ends (exclusive), or -1 if none starts there. */
function tokenEnd(json: string, start: number): number {
  if (startsWithAt(json, 'null', start)) return start + 4;
  if (json.charCodeAt(start) !== QUOTE) return -1;
  let quote = json.indexOf('"', start + 1);
  while (quote > 0 && isEscaped(json, quote)) quote = json.indexOf('"', quote + 1);
  return quote < 0 ? -1 : quote + 1;
}

const QUOTE = 0x22;
const COLON = 0x3a;
const BACKSLASH = 0x5c;

/** An odd run of backslashes before `at` escapes it. */
function isEscaped(json: string, at: number): boolean {
  let backslashes = 0;
  while (json.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
  return backslashes % 2 === 1;
}

/**
 * Where an entry's states start: at `,"before":` as the entry query writes the canonical fields (in a string the quotes
 * would be escaped, so this is the key), or 0 for text in another form.
 */
export function statesStart(json: string): number {
  if (!json.startsWith('{"id":')) return 0;
  const before = json.indexOf(',"before":');
  if (before < 0) return 0;
  // The head holds no object: a `{` ahead of it means the `,"before":` found is a state's own (an entry without
  // `before`), or a head string holds a brace; either way the text is read whole.
  const brace = json.indexOf('{', 1);
  return brace >= 0 && brace < before ? 0 : before;
}
