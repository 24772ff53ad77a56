import { UsageError } from '../errors.js';

/**
 * The zone of the table's TIME column: API7_AUDIT_TZ when set, else with `--local` this machine's zone (TZ, else the
 * system's), else undefined for UTC. Machine output (JSON, NDJSON, CSV) stays ISO 8601 UTC whatever this says.
 */
export function resolveTimeZone(local: boolean, env: NodeJS.ProcessEnv): string | undefined {
  const chosen = env.API7_AUDIT_TZ?.trim();
  if (chosen) return checkZone('API7_AUDIT_TZ', chosen);
  if (!local) return undefined;
  const tz = env.TZ?.trim().replace(/^:/, '');
  if (tz) return checkZone('TZ', tz);
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function checkZone(source: string, zone: string): string {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new UsageError(`invalid ${source} '${zone}': expected an IANA time zone such as UTC, Europe/Berlin or America/New_York`);
  }
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * `YYYY-MM-DD HH:MM:SS` in UTC, or in `timeZone` (an IANA name) when given; a timestamp that does not parse is shown
 * as it is rather than hidden. A local time that the clock shows twice (the hour repeated when summer time ends)
 * carries its offset, `2026-10-25 02:30:00+02:00` then `02:30:00+01:00`, so two entries an hour apart do not read
 * as one moment, nor in the wrong order.
 */
export function formatTime(timestamp: string, timeZone?: string): string {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  if (timeZone === undefined) return wallTime(date);
  const part = zoneParts(date, timeZone);
  // Intl prints 44 BC as year 44 (its era apart): outside years 1-9999 the local time is the UTC one moved by the offset.
  const local = isFourDigitYear(date)
    ? `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}:${part.second}`
    : wallTime(new Date(date.getTime() + offsetMs(date, timeZone)));
  return shownTwice(date, timeZone) ? `${local}${offsetText(part.timeZoneName)}` : local;
}

/**
 * `YYYY-MM-DD HH:MM:SS` of `date` in UTC; a year outside 0000-9999 in ISO 8601's expanded form, BC years counted
 * astronomically (`-000043-03-15 12:00:00` is 44 BC), as entries' timestamps print in every output (entry-columns.ts).
 */
function wallTime(date: Date): string {
  const iso = date.toISOString();
  return iso.slice(0, iso.indexOf('T') + 9).replace('T', ' ');
}

/** Whether Intl's numeric year is the ISO one: years 1-9999 (and not ones that an offset may carry past those ends). */
const isFourDigitYear = (date: Date) => date.getUTCFullYear() > 1 && date.getUTCFullYear() < 9999;

function zoneParts(date: Date, timeZone: string): Record<string, string> {
  let format = zoneFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'longOffset' });
    zoneFormats.set(timeZone, format);
  }
  return Object.fromEntries(format.formatToParts(date).map(({ type, value }) => [type, value]));
}

/** `GMT+02:00` (or `GMT` for UTC itself) as `+02:00`. */
function offsetText(name = 'GMT'): string {
  return name === 'GMT' ? '+00:00' : name.replace(/^GMT/, '');
}

/** The zone's offset at `date`, seconds included: before standard time a zone keeps its local mean time (+09:18:59). */
const offsetMs = (date: Date, timeZone: string): number => {
  const match = /([+-])(\d{2}):(\d{2})(?::(\d{2}))?/.exec(offsetText(zoneParts(date, timeZone).timeZoneName));
  return match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 3_600_000 + Number(match[3]) * 60_000 + Number(match[4] ?? 0) * 1000) : 0;
};

/** Per zone and minute (offsets change on whole minutes): a table's rows come in runs of nearby times. */
const twiceCache = new Map<string, boolean>();

/** Whether another instant within a day shows the same local time: the zone's offset changed back over it. */
function shownTwice(date: Date, timeZone: string): boolean {
  const key = `${timeZone} ${Math.floor(date.getTime() / 60_000)}`;
  let twice = twiceCache.get(key);
  if (twice === undefined) {
    if (twiceCache.size > 10_000) twiceCache.clear();
    twice = offsetChangedBack(date, timeZone);
    twiceCache.set(key, twice);
  }
  return twice;
}

function offsetChangedBack(date: Date, timeZone: string): boolean {
  const offset = offsetMs(date, timeZone);
  const time = date.getTime();
  for (const other of [offsetMs(new Date(time - 86_400_000), timeZone), offsetMs(new Date(time + 86_400_000), timeZone)]) {
    if (other !== offset && offsetMs(new Date(time + offset - other), timeZone) === other) return true;
  }
  return false;
}
