import { UsageError } from '../errors.js';
import { EARLIEST_INSTANT, isOutOfRange, LATEST_INSTANT, normalizeInstant, parseInstant } from './instant.js';
import { DURATION_EXAMPLES, MAX_DURATION_MS, durationHint, parseDurationFlag, tryParseDuration } from './duration.js';

import type { TimeBound } from '../domain.js';

/** PostgreSQL refuses a UTC offset of 16 hours or more ("time zone displacement out of range"). */
const MAX_OFFSET_HOURS = 15;
// Date, or date and time with optional fraction and zone. A time without a zone is taken as UTC. The year as the
// output prints it (config/instant.ts): four digits, or outside 0000-9999 a sign and six (44 BC is -000043).
const ISO = /^(\d{4}|[+-]\d{6})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
/** The same shape with any year, to say what is wrong with one that is not four digits or a sign and six. */
const ANY_YEAR = /^([+-]?)(\d+)(-\d{2}-\d{2}(?:[T ].*)?)$/i;

/** Parses `30m`, `24h`, `2h30m`, `7d`, `2w` into a PostgreSQL interval literal, or returns undefined. */
export function parseDuration(value: string): string | undefined {
  return tryParseDuration(value)?.interval;
}

/** Parses a `--since`/`--until` value: a duration before now, or an ISO 8601 date/time. */
export function parseTimeBound(flag: string, value: string): TimeBound {
  const duration = tryParseDuration(value);
  if (duration && duration.ms > MAX_DURATION_MS) {
    throw new UsageError(`invalid ${flag} '${value}': a duration reaches back 1000 years at most`);
  }
  if (duration) return { kind: 'relative', interval: duration.interval };
  const offset = /([+-])(\d{2}):?(\d{2})$/.exec(value.trim());
  if (offset && ISO.test(value.trim()) && (Number(offset[2]) > MAX_OFFSET_HOURS || Number(offset[3]) > 59)) {
    throw new UsageError(`invalid ${flag} '${value}': the UTC offset ${offset[0]} is out of range (at most ±15:59)`);
  }
  const iso = normalizeIso(value.trim());
  if (iso) return { kind: 'absolute', iso };
  throw new UsageError(`invalid ${flag} '${value}': ${timeHint(value.trim())}`);
}

/** Returns the ISO text with an explicit zone (UTC when none was given), or undefined when it is not a real time. */
function normalizeIso(value: string): string | undefined {
  const text = isoText(value);
  // The checkpoint's rules: no 2026-02-31 (Date rolls it over, whatever the zone), nothing PostgreSQL refuses (year 0000 is 1 BC).
  return text === undefined || normalizeInstant(text) === undefined ? undefined : text;
}

/** The value as a checkpoint's instant reads it: `T`, seconds and a zone (UTC) filled in; undefined in another form. */
function isoText(value: string): string | undefined {
  const match = ISO.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', zone = 'Z'] = match;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction}${zone.toUpperCase()}`;
}

/**
 * Parses a length of time for flags such as `--settle 5s`, `--timeout 30s`, `--max-duration 10m` in the grammar of
 * every duration flag (config/duration.ts). `min` is in milliseconds; with `min` 0 a plain `0` is allowed.
 */
export function parseSpanMs(flag: string, value: string, min = 1): number {
  return parseDurationFlag(flag, value, { minMs: min }).ms;
}

/**
 * Refuses `--since 1d --until 7d` and other ranges that can hold nothing, naming both values. A duration against an
 * ISO time is compared by this machine's clock, and only refused when it is empty by more than a minute of skew.
 */
export function checkTimeRange(since: { flag: string; value: string }, until: { flag: string; value: string }): void {
  const start = parseTimeBound(since.flag, since.value);
  const end = parseTimeBound(until.flag, until.value);
  const sameKind = start.kind === end.kind;
  const startMs = boundMs(start, since.value);
  const endMs = boundMs(end, until.value);
  if (startMs === undefined || endMs === undefined) return;
  const slack = sameKind ? 0 : SKEW_MS;
  if (startMs + slack >= endMs) {
    throw new UsageError(
      `empty range: ${since.flag} ${since.value} is not before ${until.flag} ${until.value}, so nothing can match; ` +
        `${since.flag} is the older end (for the week before yesterday: ${since.flag} 7d ${until.flag} 1d)`,
    );
  }
}

const SKEW_MS = 60_000;

/** A bound as milliseconds since 1970 by this machine's clock (relative bounds: now minus the duration). */
function boundMs(bound: TimeBound, value: string): number | undefined {
  if (bound.kind === 'absolute') {
    const instant = parseInstant(bound.iso);
    return instant && instant.seconds * 1000 + instant.micros / 1000;
  }
  const duration = tryParseDuration(value);
  return duration && Date.now() - duration.ms;
}

function timeHint(text: string): string {
  const iso = 'an ISO 8601 time such as 2026-01-31T12:00:00Z';
  const year = yearHint(text);
  if (year) return year;
  if (/^\d+(?:\.\d+)?$/.test(text)) return `${durationHint(text)}; or ${iso}`;
  const hint = durationHint(text);
  return hint.startsWith("'M'") ? hint : `expected a duration such as ${DURATION_EXAMPLES} or ${iso}`;
}

const EXPANDED_YEAR = 'a year outside 0000-9999 is a sign and six digits, as the output prints it: -000043 is 44 BC, +012026 the year 12026';

/** What is wrong with the year of text shaped as a date: its form, or a time outside what PostgreSQL and Date hold. */
function yearHint(text: string): string | undefined {
  const shape = ANY_YEAR.exec(text);
  if (!shape) return undefined;
  const [, sign, digits = ''] = shape;
  if (sign === '-' && /^0+$/.test(digits)) return `there is no year -0: 1 BC is 0000; ${EXPANDED_YEAR}`;
  if (digits.length !== (sign === '' ? 4 : 6)) return EXPANDED_YEAR;
  const iso = isoText(text);
  return iso !== undefined && isOutOfRange(iso) ? `the times PostgreSQL and this tool hold run from ${EARLIEST_INSTANT} (4714 BC) to ${LATEST_INSTANT}` : undefined;
}
