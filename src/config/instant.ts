/**
 * Instants as the tool writes them: ISO 8601 in UTC with exactly six fractional digits
 * (`2026-10-04T06:39:00.000000Z`), the form PostgreSQL's microsecond timestamps take. Text in any other form is
 * normalized to it on read, so comparisons and SQL bounds never depend on how a file spelled an offset. A year
 * outside 0000-9999 takes ISO 8601's expanded form as ECMAScript's Date reads it, a sign and six digits, BC years
 * counted astronomically: 44 BC is `-000043`, 1 BC `0000` (what entries print: db/entry-columns.ts entryTimestampOf).
 */
export interface Instant {
  /** Whole seconds since 1970-01-01T00:00:00Z. */
  seconds: number;
  /** 0 to 999,999. */
  micros: number;
}

const ISO = /^(\d{4}|[+-]\d{6})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):?(\d{2}))$/i;

/**
 * Parses an ISO 8601 date and time with a zone (`Z` or `±hh:mm`). Returns undefined for text that is not a real
 * time (2026-02-31, 24:00, an offset of 16 h or more) or that has precision beyond microseconds, which PostgreSQL
 * would round: a position must compare exactly. So for a time outside {@link EARLIEST_INSTANT}..{@link LATEST_INSTANT}.
 */
export function parseInstant(text: string): Instant | undefined {
  const read = readInstant(text);
  return read && inRange(read) ? read : undefined;
}

/** Whether the text is a real time in the right form that lies outside {@link EARLIEST_INSTANT}..{@link LATEST_INSTANT}. */
export function isOutOfRange(text: string): boolean {
  const read = readInstant(text);
  return read !== undefined && !inRange(read);
}

/** PostgreSQL's first instant (4714 BC, whatever its documentation rounds it to), in the form the output prints it. */
export const EARLIEST_INSTANT = '-004713-11-24T00:00:00Z';
/** JavaScript's last instant: PostgreSQL goes on to 294276 AD, which no Date (the table, the sinks) could hold. */
export const LATEST_INSTANT = '+275760-09-13T00:00:00Z';
const EARLIEST_SECONDS = new Date(0).setUTCFullYear(-4713, 10, 24) / 1000;
const LATEST_SECONDS = 8.64e12;

/** NaN seconds (a year past Date's) compare false: outside. */
const inRange = ({ seconds, micros }: Instant) => seconds >= EARLIEST_SECONDS && (seconds < LATEST_SECONDS || (seconds === LATEST_SECONDS && micros === 0));

/** {@link parseInstant} without the range: seconds are NaN for a year Date cannot hold. */
function readInstant(text: string): Instant | undefined {
  const match = ISO.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone, sign, oh = '0', om = '0'] = match;
  if (/[1-9]/.test(fraction.slice(6)) || y === '-000000') return undefined;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59 || Number(oh) > 15 || Number(om) > 59) return undefined;
  // setUTCFullYear, unlike Date.UTC, keeps years below 100; it rolls 2026-02-31 over into March, which the check refuses.
  const days = new Date(0).setUTCFullYear(year, month - 1, day);
  if (!Number.isNaN(days) && (new Date(days).getUTCDate() !== day || new Date(days).getUTCMonth() !== month - 1)) return undefined;
  const offset = zone?.toUpperCase() === 'Z' ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60);
  return { seconds: days / 1000 + hour * 3600 + minute * 60 + second - offset, micros: Number(fraction.slice(0, 6).padEnd(6, '0')) };
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ` (`±YYYYYY-...` outside years 0000-9999, as Date's toISOString writes them). */
export function formatInstant(instant: Instant): string {
  const iso = new Date(instant.seconds * 1000).toISOString();
  return `${iso.slice(0, -5)}.${String(instant.micros).padStart(6, '0')}Z`;
}

/** The text normalized to UTC with microseconds, or undefined when it cannot be represented exactly. */
export function normalizeInstant(text: string): string | undefined {
  const instant = parseInstant(text);
  return instant && formatInstant(instant);
}

/** Negative, zero or positive as `a` is before, at or after `b`. Both must parse (see {@link parseInstant}). */
export function compareInstants(a: string, b: string): number {
  const [x, y] = [parseInstant(a), parseInstant(b)];
  if (!x || !y) throw new TypeError(`not an instant: ${x ? b : a}`);
  return x.seconds - y.seconds || x.micros - y.micros;
}

/** The earlier of two instants. */
export const earlierInstant = (a: string, b: string): string => (compareInstants(a, b) <= 0 ? a : b);

/**
 * An instant's text as PostgreSQL reads it, and as a seal's leaf holds it (decisions/005): an expanded year as
 * PostgreSQL's own, `-000043-03-15T...Z` as `0044-03-15T...Z BC`, `+012026-...` as `12026-...`; other text as it is.
 */
export function postgresTimestampText(text: string): string {
  const expanded = /^([+-])(\d{6})(-.*)$/.exec(text) ?? /^(0)(000)(-.*)$/.exec(text);
  if (!expanded) return text;
  const [, sign, digits, rest] = expanded as unknown as [string, string, string, string];
  const year = Number(digits);
  return sign === '+' ? `${year}${rest}` : `${String(year + 1).padStart(4, '0')}${rest} BC`;
}
