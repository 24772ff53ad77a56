import { createHash } from 'node:crypto';
import { fromByteString, toByteString } from '../byte-string.js';
import type { ExportRecord } from '../domain.js';
import { jsonLength } from './body.js';
import type { OversizeHandler, SendOutcome } from './types.js';

/**
 * The key of the marker objects this tool writes in place of a state: `{"$api7_audit":"omitted", ...}` for a state
 * left out of an entry too large for its destination (and `"invalid_json"` for a text state that is not JSON, see
 * src/db/entry-columns.ts).
 */
export const MARKER_KEY = '$api7_audit';

/** States up to this many bytes stay in a reduced entry: only larger ones are what made it too large. */
export const KEEP_STATE_BYTES = 1024;

const STATES = ['before', 'after'] as const;

/**
 * An entry too large for its destination, in the form the destination can take: the plain fields as they are, and
 * each state over {@link KEEP_STATE_BYTES} replaced by `{"$api7_audit":"omitted","reason":"too_large","bytes":N,
 * "sha256":HEX}`, the size and SHA-256 of that state's JSON text exactly as it stood in the entry (UTF-8).
 */
export class ReducedRecord implements ExportRecord {
  readonly jsonBytes: string;

  constructor(readonly original: ExportRecord) {
    this.jsonBytes = reduceEntryBytes(original.jsonBytes);
  }

  get id() {
    return this.original.id;
  }
  get timestamp() {
    return this.original.timestamp;
  }
  get timeMs() {
    return this.original.timeMs;
  }
  get fields() {
    return this.original.fields;
  }
  get fieldsJson() {
    return this.original.fieldsJson;
  }
  get json(): string {
    return fromByteString(this.jsonBytes);
  }
}

/** The marker for a state's JSON text (a byte string), or the text itself when it is small enough to keep. */
function stateOrMarker(state: string): string {
  if (state.length <= KEEP_STATE_BYTES) return state;
  const sha256 = createHash('sha256').update(state, 'latin1').digest('hex');
  return `{"${MARKER_KEY}":"omitted","reason":"too_large","bytes":${state.length},"sha256":"${sha256}"}`;
}

/**
 * {@link ReducedRecord}'s text. The export writes `before` and `after` last, in that order, so each state is the
 * text between its key and the next; text in any other form is parsed, and its states measured as JSON.stringify
 * writes them.
 */
export function reduceEntryBytes(jsonBytes: string): string {
  // Strings escape their quotes, so the first `,"before":` is the entry's own key, ahead of any in its states.
  const beforeKey = jsonBytes.indexOf(',"before":');
  const beforeEnd = beforeKey < 0 ? -1 : valueEnd(jsonBytes, beforeKey + 10);
  const afterEnd = beforeEnd < 0 || !jsonBytes.startsWith(',"after":', beforeEnd) ? -1 : valueEnd(jsonBytes, beforeEnd + 9);
  if (afterEnd < 0 || jsonBytes.slice(afterEnd).trim() !== '}') return reduceParsed(jsonBytes);
  const before = jsonBytes.slice(beforeKey + 10, beforeEnd);
  const after = jsonBytes.slice(beforeEnd + 9, afterEnd);
  return `${jsonBytes.slice(0, beforeKey)},"before":${stateOrMarker(before)},"after":${stateOrMarker(after)}}`;
}

function reduceParsed(jsonBytes: string): string {
  const entry = JSON.parse(fromByteString(jsonBytes)) as Record<string, unknown>;
  for (const key of STATES) {
    const state = entry[key];
    if (state === undefined || state === null) continue;
    entry[key] = JSON.parse(fromByteString(stateOrMarker(toByteString(JSON.stringify(state))))) as unknown;
  }
  return toByteString(JSON.stringify(entry));
}

/** Where the JSON value starting at `start` ends (exclusive), or -1 when none does. */
export function valueEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth += 1;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth === 0) return i;
      depth -= 1;
      if (depth === 0) return i + 1;
    } else if (c === COMMA && depth === 0) return i;
  }
  return depth === 0 && !inString ? text.length : -1;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The largest part (bytes of entry JSON) a destination has not refused as too large, learnt from its 413s: later
 * batches are split before they are sent, not after an upload refused each time (nginx's 1 MB default in front of a
 * cluster refused every 5 MB batch three times over).
 */
export class PartSizeLimit {
  maxBytes = Number.POSITIVE_INFINITY;
}

/** What one request for part of a batch came to: a sink's outcome, or a 413. */
export type PartOutcome = SendOutcome | { kind: 'too-large'; reason: string };

/**
 * Sends `records` with `post`, one request at first. A 413 splits the part in halves (recursively) before it gives
 * up, and lowers `limit` (the sink's, kept across batches) below the refused part; a single entry still refused goes reduced through `oversize`; a reduced entry still refused is fatal, naming
 * it. A retry outcome hands back everything not yet confirmed, in order, reduced entries in their reduced form.
 */
export async function sendInParts(
  sink: string,
  records: readonly ExportRecord[],
  post: (part: readonly ExportRecord[]) => Promise<PartOutcome>,
  oversize: OversizeHandler | undefined,
  limit = new PartSizeLimit(),
): Promise<SendOutcome> {
  const queue: (readonly ExportRecord[])[] = [records];
  let duplicates = 0;
  const halve = (part: readonly ExportRecord[]): void => {
    const mid = Math.ceil(part.length / 2);
    queue.unshift(part.slice(0, mid), part.slice(mid));
  };
  for (let part = queue.shift(); part !== undefined; part = queue.shift()) {
    if (part.length > 1 && jsonLength(part) > limit.maxBytes) {
      halve(part);
      continue;
    }
    const outcome = await post(part);
    if (outcome.kind === 'delivered') {
      duplicates += outcome.duplicates;
    } else if (outcome.kind === 'too-large' && part.length > 1) {
      limit.maxBytes = Math.min(limit.maxBytes, jsonLength(part) - 1);
      halve(part);
    } else if (outcome.kind === 'too-large') {
      const only = part[0] as ExportRecord;
      if (only instanceof ReducedRecord || oversize === undefined) {
        const reduced = only instanceof ReducedRecord ? ' even reduced' : '';
        return { kind: 'fatal', reason: `${sink} refused entry id ${only.id} as too large${reduced} (${only.jsonBytes.length} bytes; ${outcome.reason})` };
      }
      queue.unshift([await oversize.reduce(only, `${sink} refused it as too large (${outcome.reason})`)]);
    } else if (outcome.kind === 'fatal') {
      return outcome;
    } else {
      const remaining = [...(outcome.remaining ?? part), ...queue.flat()];
      return { ...outcome, remaining, duplicates: duplicates + (outcome.duplicates ?? 0) };
    }
  }
  return { kind: 'delivered', duplicates };
}
