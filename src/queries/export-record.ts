import { fromByteString, toByteString } from '../byte-string.js';
import { HEAD_FIELDS, headBounds, readHeadBounds, type HeadBounds, type HeadField } from '../entry-head.js';
import { timestampTokenMs } from '../timestamp-token.js';
import type { ExportFields, ExportFieldsJson, ExportRecord } from '../domain.js';

/**
 * An entry to ship: its JSON text as a byte string (the UTF-8 bytes the server sent, or masking wrote), and, read
 * from the head of that text the first time a sink or the checkpoint asks, its id, time and plain fields. The file
 * sink asks for the last entry of a batch only, HEC for every entry.
 */
export class EntryRecord implements ExportRecord {
  private tokens: HeadTokens | undefined;
  private decoded: ExportFields | undefined;

  readonly jsonBytes: string;
  readonly headBounds: HeadBounds | undefined;
  readonly headBase: number;

  /** `headBounds` from `headBase` on: where the head's tokens lie in `jsonBytes`, if read already. */
  constructor(jsonBytes: string, headBounds?: HeadBounds, headBase = 0) {
    this.jsonBytes = escapeLineSeparators(jsonBytes);
    // An escaped line separator moved what follows it.
    this.headBounds = this.jsonBytes === jsonBytes ? headBounds : undefined;
    this.headBase = headBase;
  }

  /**
   * The record of an entry as the COPY sent it: its head read once (frames only, as HEC reads it), for `transform`
   * (masking) to start at the states and for HEC to copy the tokens, while masking left the text as it was.
   */
  static read(jsonBytes: string, transform: EntryTransform, bounds: HeadBounds, base: number): EntryRecord {
    if (!readHeadBounds(jsonBytes, bounds, false, base)) return new EntryRecord(transform(jsonBytes));
    headKept.kept = false;
    const text = transform(jsonBytes, bounds[base + STATES_FROM], headKept);
    return text === jsonBytes || headKept.kept ? new EntryRecord(text, bounds, base) : new EntryRecord(text);
  }

  get json(): string {
    return fromByteString(this.jsonBytes);
  }

  get id(): string {
    return decodeByteToken(this.head().id) ?? '';
  }

  get timestamp(): string {
    return decodeByteToken(this.head().timestamp) ?? '';
  }

  get timeMs(): number {
    return timestampTokenMs(this.head().timestamp) ?? epochMs(this.timestamp);
  }

  get fields(): ExportFields {
    this.decoded ??= decodeFields(this.head());
    return this.decoded;
  }

  /** The head's tokens hold every plain field as JSON text: a sink writing JSON copies them as they are. */
  get fieldsJson(): ExportFieldsJson {
    return this.head();
  }

  /** Tokens of the byte string: read by position (JSON's punctuation is ASCII, one byte), else parsed and encoded. */
  private head(): HeadTokens {
    this.tokens ??= scanHeadTokens(this.jsonBytes) ?? encodeTokens(parseHeadTokens(this.json));
    return this.tokens;
  }
}

/**
 * Masks (or passes on) an entry's text. With `statesFrom`, masking starts there; it sets `head.kept` when it changed
 * nothing before it, so that the head's bounds still hold.
 */
export type EntryTransform = (jsonBytes: string, statesFrom?: number, head?: { kept: boolean }) => string;

/** What {@link EntryRecord.read} hands the transform: one object for every record, made one at a time. */
const headKept = { kept: false };

/** Where the last head token ends in a head's bounds: `,"before":`, where the states start. */
const STATES_FROM = 2 * HEAD_FIELDS.length - 1;

/** U+2028, U+2029 and U+0085 in UTF-8: valid JSON holds them only inside strings, where escapes mean the same. */
const LINE_SEPARATOR_BYTES = /\u00e2\u0080[\u00a8\u00a9]|\u00c2\u0085/g;
const LINE_SEPARATOR_ESCAPES: Record<string, string> = { '\u00e2\u0080\u00a8': '\\u2028', '\u00e2\u0080\u00a9': '\\u2029', '\u00c2\u0085': '\\u0085' };

/**
 * An entry's byte string on one line for every reader, also those that split at U+2028, U+2029 or U+0085 (Python's
 * str.splitlines). Raw CR and LF cannot occur: the server's JSON has them escaped or, for json columns, as spaces.
 */
export function escapeLineSeparators(jsonBytes: string): string {
  // One pass for U+2028 and U+2029 (their first two bytes, then the third), one for U+0085: about half of three
  // indexOf passes. Typographic quotes and dashes share the first two bytes but not the third.
  let at = jsonBytes.indexOf('\u00e2\u0080');
  while (at >= 0 && !isLineSeparatorEnd(jsonBytes.charCodeAt(at + 2))) at = jsonBytes.indexOf('\u00e2\u0080', at + 2);
  if (at < 0 && jsonBytes.indexOf('\u00c2\u0085') < 0) return jsonBytes;
  return jsonBytes.replace(LINE_SEPARATOR_BYTES, (bytes) => LINE_SEPARATOR_ESCAPES[bytes] as string);
}

function isLineSeparatorEnd(byte: number): boolean {
  return byte === 0xa8 || byte === 0xa9;
}

function encodeTokens(tokens: HeadTokens): HeadTokens {
  return Object.fromEntries(Object.entries(tokens).map(([field, token]) => [field, toByteString(token)])) as HeadTokens;
}

/** {@link decodeToken} for a token of a byte string: bytes to text first, then JSON escapes (`\u00e9` is text). */
function decodeByteToken(token: string): string | null {
  return decodeToken(fromByteString(token));
}

/** Each plain field of an entry as JSON text: a quoted string (escapes and all) or `null`. */
export type HeadTokens = Record<HeadField, string>;

/**
 * The plain fields of an entry's JSON text, as JSON text, without parsing: by position (src/entry-head.ts) where the
 * text is in the export query's form. 0.45 µs a row against 1.65 µs for JSON.parse of the head (66,486 bench rows,
 * half of them with non-Latin-1 text), and HEC copies the tokens into its `fields` without quoting them again. Text
 * in any other form is parsed whole.
 */
export function readHeadTokens(json: string): HeadTokens {
  return scanHeadTokens(json) ?? parseHeadTokens(json);
}

/** Where {@link scanHeadTokens} reads the bounds: one array for every row, as rows are read one at a time. */
const boundsScratch = headBounds();

/** {@link readHeadTokens} by position only: undefined for text in another form. */
function scanHeadTokens(json: string): HeadTokens | undefined {
  if (!readHeadBounds(json, boundsScratch)) return undefined;
  const tokens = {} as HeadTokens;
  for (let index = 0; index < HEAD_FIELDS.length; index += 1) {
    tokens[HEAD_FIELDS[index] as HeadField] = json.slice(boundsScratch[2 * index], boundsScratch[2 * index + 1]);
  }
  return tokens;
}

function parseHeadTokens(json: string): HeadTokens {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  const token = (value: unknown) => JSON.stringify(value === null || value === undefined ? null : String(value));
  return Object.fromEntries(HEAD_FIELDS.map((field) => [field, token(parsed[field])])) as HeadTokens;
}

/** A token's value: null, or the string, unescaped only when it holds an escape. */
export function decodeToken(token: string): string | null {
  if (token === 'null') return null;
  return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
}

function decodeFields(tokens: HeadTokens): ExportFields {
  return {
    operator: decodeByteToken(tokens.operator),
    operation: decodeByteToken(tokens.operation),
    resource_type: decodeByteToken(tokens.resource_type),
    resource_id: decodeByteToken(tokens.resource_id),
    source_ip: decodeByteToken(tokens.source_ip),
    source: decodeByteToken(tokens.source),
  };
}

/**
 * Epoch milliseconds of an entry timestamp (ISO 8601 UTC with microseconds, which Date.parse cuts to the
 * millisecond). Only a timestamp beyond what Date can hold (year 10000 and on) gives 0 instead of NaN.
 */
function epochMs(timestamp: string): number {
  const ms = Date.parse(timestamp);
  return Number.isFinite(ms) ? ms : 0;
}
