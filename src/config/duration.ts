import { UsageError } from '../errors.js';

/**
 * The one grammar of every duration flag (`--since 7d`, `--max-duration 10m`, `--wait-lock 90s`, `--settle 5s`,
 * `--connect-timeout 10s`, ...): one or more `<number><unit>` parts, such as `90s`, `10m`, `2h30m`, `1.5h`, `7d`,
 * `7D`, `2w`, `500ms`. Units are case-insensitive but for `M`, refused: `6M` is months to some readers and
 * minutes to others (`--since 6M` meant minutes, silently). A bare number is refused everywhere, with a hint, because
 * `10` meant seconds in one flag and nothing in another.
 */
export interface Duration {
  /** Whole milliseconds. */
  ms: number;
  /** The same length as a PostgreSQL interval literal (`2 hours 30 minutes`): days stay days, for `now() - interval`. */
  interval: string;
}

const UNITS = {
  ms: { ms: 1, interval: 'milliseconds' },
  s: { ms: 1000, interval: 'seconds' },
  m: { ms: 60_000, interval: 'minutes' },
  h: { ms: 3_600_000, interval: 'hours' },
  d: { ms: 86_400_000, interval: 'days' },
  w: { ms: 604_800_000, interval: 'weeks' },
} as const;

type Unit = keyof typeof UNITS;

const WHOLE = /^(?:\d{1,9}(?:\.\d{1,6})?(?:ms|s|m|h|d|w))+$/i;
const PART = /(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h|d|w)/gi;
const BARE_NUMBER = /^\d+(?:\.\d+)?$/;
/** A unit `M` on its own (not `MS`, `Ms`: milliseconds). */
const UPPER_M = /\dM(?![sS])/;
/** Farther back than this, `now() - interval` leaves PostgreSQL's range (4713 BC) or the interval type's. */
export const MAX_DURATION_MS = 1_000 * 366 * UNITS.d.ms;

export const DURATION_EXAMPLES = '90s, 10m, 2h30m, 1.5h, 7d, 2w';

export interface DurationLimits {
  /** Smallest accepted length in milliseconds (default 1: zero refused). */
  minMs?: number;
  /** Largest accepted length in milliseconds (default 1000 years). */
  maxMs?: number;
}

/** Parses a duration, or returns undefined when the text is not one (so a time flag can try an ISO time next). */
export function tryParseDuration(value: string): Duration | undefined {
  const text = value.trim();
  if (!WHOLE.test(text) || UPPER_M.test(text)) return undefined;
  let ms = 0;
  const parts: string[] = [];
  for (const [, amount = '0', unitText = 's'] of text.matchAll(PART)) {
    const unit = UNITS[unitText.toLowerCase() as Unit];
    ms += Number(amount) * unit.ms;
    parts.push(`${amount} ${unit.interval}`);
  }
  return { ms: Math.round(ms), interval: parts.join(' ') };
}

/** Parses a duration flag; anything else, a bare number included, is a UsageError naming the flag and the value. */
export function parseDurationFlag(flag: string, value: string, limits: DurationLimits = {}): Duration {
  const { minMs = 1, maxMs = MAX_DURATION_MS } = limits;
  const text = value.trim();
  // A plain zero needs no unit: `--settle 0` says "do not wait" in every unit.
  if (minMs === 0 && /^0+(?:\.0+)?$/.test(text)) return { ms: 0, interval: '0 seconds' };
  const duration = tryParseDuration(text);
  if (!duration) throw new UsageError(`invalid ${flag} '${value}': ${durationHint(text)}`);
  if (duration.ms < minMs) {
    throw new UsageError(`invalid ${flag} '${value}': expected at least ${formatDuration(Math.max(minMs, 1))}`);
  }
  if (duration.ms > maxMs) throw new UsageError(`invalid ${flag} '${value}': expected at most ${formatDuration(maxMs)}`);
  return duration;
}

/** What to say about text that is not a duration; a bare number gets the units it may have meant. */
export function durationHint(text: string): string {
  if (WHOLE.test(text) && UPPER_M.test(text)) {
    const amount = /(\d+(?:\.\d+)?)M(?![sS])/.exec(text)?.[1] ?? '1';
    return `'M' is not a unit: months are not durations (write ${Math.round(Number(amount) * 30)}d for about ${amount} months), and minutes are a lower-case m (${amount}m)`;
  }
  if (BARE_NUMBER.test(text)) {
    return `a duration needs a unit, such as ${text}s, ${text}m, ${text}h or ${text}d (a bare number is refused: it meant seconds in one flag and nothing in another)`;
  }
  return `expected a duration such as ${DURATION_EXAMPLES}`;
}

/** `2h30m`, `90s`, `500ms`, `1000d`: the largest units that divide it, for messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNITS[unit].ms;
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}
