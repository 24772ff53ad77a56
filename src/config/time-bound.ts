import { UsageError } from '../errors.js';
import { normalizeInstant } from './instant.js';

/**
 * A point in time given on the command line. Relative bounds are resolved by the database clock (`now() - interval`)
 * so that a client with a skewed clock still selects the right rows.
 */
export type TimeBound = { kind: 'relative'; interval: string } | { kind: 'absolute'; iso: string };

const UNITS: Record<string, string> = { s: 'seconds', m: 'minutes', h: 'hours', d: 'days', w: 'weeks' };
const DURATION = /^(\d{1,9})(s|m|h|d|w)$/;
const UNIT_DAYS: Record<string, number> = { s: 1 / 86_400, m: 1 / 1440, h: 1 / 24, d: 1, w: 7 };
/** Farther back than this, `now() - interval` leaves PostgreSQL's range (4713 BC) or the interval type's. */
const MAX_DURATION_DAYS = 1_000 * 366;
/** PostgreSQL refuses a UTC offset of 16 hours or more ("time zone displacement out of range"). */
const MAX_OFFSET_HOURS = 15;
// Date, or date and time with optional fraction and zone. A time without a zone is taken as UTC.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses `30m`, `24h`, `7d`, `2w` into a PostgreSQL interval literal, or returns undefined. */
export function parseDuration(value: string): string | undefined {
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return `${amount} ${UNITS[unit as string]}`;
}

function durationDays(value: string): number {
  const [, amount = '0', unit = 'd'] = DURATION.exec(value.trim()) ?? [];
  return Number(amount) * (UNIT_DAYS[unit] ?? 1);
}

/** Parses a `--since`/`--until` value: a duration before now, or an ISO 8601 date/time. */
export function parseTimeBound(flag: string, value: string): TimeBound {
  const interval = parseDuration(value);
  if (interval && durationDays(value) > MAX_DURATION_DAYS) {
    throw new UsageError(`invalid ${flag} '${value}': a duration reaches back 1000 years at most`);
  }
  if (interval) return { kind: 'relative', interval };
  const offset = /([+-])(\d{2}):?(\d{2})$/.exec(value.trim());
  if (offset && ISO.test(value.trim()) && (Number(offset[2]) > MAX_OFFSET_HOURS || Number(offset[3]) > 59)) {
    throw new UsageError(`invalid ${flag} '${value}': the UTC offset ${offset[0]} is out of range (at most ±15:59)`);
  }
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
  // The checkpoint's rules: no 2026-02-31 (Date rolls it over, whatever the zone), no year 0, nothing PostgreSQL refuses.
  return normalizeInstant(text) === undefined ? undefined : text;
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
