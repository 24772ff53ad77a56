import { UsageError } from '../errors.js';

/**
 * A point in time given on the command line. Relative bounds are resolved by the database clock (`now() - interval`)
 * so that a client with a skewed clock still selects the right rows.
 */
export type TimeBound = { kind: 'relative'; interval: string } | { kind: 'absolute'; iso: string };

const UNITS: Record<string, string> = { s: 'seconds', m: 'minutes', h: 'hours', d: 'days', w: 'weeks' };
const DURATION = /^(\d{1,9})(s|m|h|d|w)$/;
// Date, or date and time with optional fraction and zone. A time without a zone is taken as UTC.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses `30m`, `24h`, `7d`, `2w` into a PostgreSQL interval literal, or returns undefined. */
export function parseDuration(value: string): string | undefined {
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return `${amount} ${UNITS[unit as string]}`;
}

/** Parses a `--since`/`--until` value: a duration before now, or an ISO 8601 date/time. */
export function parseTimeBound(flag: string, value: string): TimeBound {
  const interval = parseDuration(value);
  if (interval) return { kind: 'relative', interval };
  const iso = normalizeIso(value.trim());
  if (iso) return { kind: 'absolute', iso };
  throw new UsageError(
    `invalid ${flag} '${value}': expected a duration such as 30m, 24h, 7d, 2w or an ISO 8601 time such as 2026-01-31T12:00:00Z`,
  );
}

/** Returns the ISO text with an explicit zone (UTC when none was given), or undefined when it is not a real time. */
function normalizeIso(value: string): string | undefined {
  const match = ISO.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', zone = 'Z'] = match;
  const text = `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction}${zone.toUpperCase()}`;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return undefined;
  // Date accepts 2026-02-31 by rolling over; reject what does not round-trip in UTC-date terms.
  if (zone.toUpperCase() === 'Z' && date.toISOString().slice(0, 10) !== `${y}-${mo}-${d}`) return undefined;
  return text;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const SPAN = /^(\d{1,9})(ms|s|m|h|d|w)?$/;

/**
 * Parses a length of time for flags such as `--settle 5s`, `--timeout 30s`, `--max-duration 10m`: a whole number
 * with a unit (ms, s, m, h, d, w), or bare seconds. `min` is in milliseconds.
 */
export function parseSpanMs(flag: string, value: string, min = 1): number {
  const match = SPAN.exec(value.trim());
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 0) : NaN;
  if (!match || !(ms >= min)) {
    throw new UsageError(`invalid ${flag} '${value}': expected a duration such as 500ms, 30s, 10m or 2h${min === 0 ? ' (0 allowed)' : ''}`);
  }
  return ms;
}
