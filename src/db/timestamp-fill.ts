import { sql, type RawBuilder } from 'kysely';
import { columnRef, entryTimestamp } from './entry-columns.js';
import type { MappedColumn, ResolvedMapping } from './mapping.js';

/**
 * What the export's COPY sends in place of a timestamp that Node writes itself: to_char was a tenth of the server's
 * time an entry (0.57 µs of 5.6 on the small bench rows), as much as the rest of the entry's fields together. No
 * to_char, timestamp text or expanded year looks like it. docs/decisions/003-export-speed.md.
 */
export const TIMESTAMP_PLACEHOLDER = '____-__-__T__:__:__.______Z';

/**
 * For a timestamp column (timestamptz, or a plain timestamp holding UTC) read as it is: the entry's timestamp as
 * {@link TIMESTAMP_PLACEHOLDER} where the value lies in 1900-2199 (its microseconds since 2000 are exact in a double),
 * else as {@link entryTimestamp} writes it; and the column itself, whose binary form (microseconds since 2000-01-01,
 * UTC) {@link fillTimestamp} turns into the text. Undefined for any other timestamp column.
 */
export function placeholderTimestamp(mapping: ResolvedMapping): { text: RawBuilder<string>; value: RawBuilder<unknown> } | undefined {
  const column = mapping.columns.timestamp as MappedColumn;
  if (column.expression !== undefined || column.epoch !== undefined || column.timeZone !== undefined) return undefined;
  if (column.type !== 'timestamptz' && column.type !== 'timestamp') return undefined;
  const value = columnRef(mapping, 'timestamp') as RawBuilder<unknown>;
  const [from, to] = column.type === 'timestamptz' ? [sql`timestamptz '1900-01-01 00:00:00+00'`, sql`timestamptz '2200-01-01 00:00:00+00'`] : [sql`timestamp '1900-01-01'`, sql`timestamp '2200-01-01'`];
  const text = sql<string>`case when ${value} >= ${from} and ${value} < ${to} then ${sql.lit(TIMESTAMP_PLACEHOLDER)} else ${entryTimestamp(mapping)} end`;
  return { text, value };
}

/**
 * Writes an entry's timestamp text over the placeholder the export query sent in its place
 * ({@link placeholderTimestamp}), in the COPY message's own bytes, before they become a string: `2026-11-25T18:54:49.014123Z`,
 * what to_char writes, from the eight bytes of the column's binary form that lead the row (`valueAt`; -1 for NULL).
 * Rows without the placeholder (a year the server wrote itself) are left as they are; a placeholder with no value
 * to put there is an error, never sent on.
 */
export function fillTimestamp(buffer: Buffer, start: number, end: number, valueAt: number): void {
  const at = placeholderAt(buffer, start, end);
  if (at < 0) return;
  if (valueAt < 0) throw new Error('COPY data: a timestamp placeholder without its value');
  // Microseconds since 2000-01-01: exact in a double for the years the query sends as a placeholder (1900-2199).
  const micros = buffer.readInt32BE(valueAt) * 4_294_967_296 + buffer.readUInt32BE(valueAt + 4);
  const days = Math.floor(micros / MICROS_A_DAY);
  writeDate(buffer, at, days + DAYS_1970_TO_2000);
  let rest = micros - days * MICROS_A_DAY;
  const hours = Math.floor(rest / 3_600_000_000);
  rest -= hours * 3_600_000_000;
  const minutes = Math.floor(rest / 60_000_000);
  rest -= minutes * 60_000_000;
  const seconds = Math.floor(rest / 1_000_000);
  writeDigits(buffer, at + 11, hours, 2);
  writeDigits(buffer, at + 14, minutes, 2);
  writeDigits(buffer, at + 17, seconds, 2);
  // The placeholder's `-`, `T`, `:`, `.` and `Z` are where the text has them.
  writeDigits(buffer, at + 20, rest - seconds * 1_000_000, 6);
}

const MICROS_A_DAY = 86_400_000_000;
const DAYS_1970_TO_2000 = 10_957;
const KEY = Buffer.from(',"timestamp":"', 'latin1');
const PLACEHOLDER = Buffer.from(TIMESTAMP_PLACEHOLDER, 'latin1');
const QUOTE = 0x22;

/**
 * Where the placeholder starts in the entry's JSON (`start` to `end`), or -1. The query writes `{"id":` first, then
 * the id, then `,"timestamp":"`: found at once after a numeric id, else by a search for the key, which a JSON string
 * cannot hold (its quotes would be escaped).
 */
function placeholderAt(buffer: Buffer, start: number, end: number): number {
  let key = start + 6;
  if (buffer[key] === QUOTE) {
    key += 1;
    while (key < end && (buffer[key] as number) >= 0x30 && (buffer[key] as number) <= 0x39) key += 1;
    key = buffer[key] === QUOTE ? key + 1 : -1;
  }
  if (key < 0 || !bytesAt(buffer, key, KEY, end)) key = buffer.indexOf(KEY, start);
  if (key < 0 || key >= end) return -1;
  const at = key + KEY.length;
  return bytesAt(buffer, at, PLACEHOLDER, end) ? at : -1;
}

function bytesAt(buffer: Buffer, at: number, bytes: Buffer, end: number): boolean {
  if (at + bytes.length > end) return false;
  for (let i = 0; i < bytes.length; i += 1) if (buffer[at + i] !== bytes[i]) return false;
  return true;
}

/** The digits of YYYY-MM-DD for days since 1970-01-01 (Howard Hinnant's civil_from_days). */
function writeDate(buffer: Buffer, at: number, days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shifted = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shifted + 2) / 5) + 1;
  const month = shifted < 10 ? shifted + 3 : shifted - 9;
  writeDigits(buffer, at, yearOfEra + era * 400 + (month <= 2 ? 1 : 0), 4);
  writeDigits(buffer, at + 5, month, 2);
  writeDigits(buffer, at + 8, day, 2);
}

/** `value` in `width` decimal digits, zero-padded, from `at`. */
function writeDigits(buffer: Buffer, at: number, value: number, width: number): void {
  for (let i = width - 1; i >= 0; i -= 1) {
    const next = Math.floor(value / 10);
    buffer[at + i] = 0x30 + value - next * 10;
    value = next;
  }
}
