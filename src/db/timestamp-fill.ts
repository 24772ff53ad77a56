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
 * Rows outside the placeholder's years are left as the server wrote them; a row inside them without the placeholder
 * is an error, so that a placeholder is never sent on.
 */
export function fillTimestamp(buffer: Buffer, start: number, end: number, valueAt: number): void {
  if (valueAt < 0) return;
  // Microseconds since 2000-01-01: exact in a double for the years the query sends as a placeholder.
  const micros = buffer.readInt32BE(valueAt) * 4_294_967_296 + buffer.readUInt32BE(valueAt + 4);
  // The query's own rule: outside it the server wrote the text; inside it a placeholder not found is an error.
  if (micros < FIRST_PLACEHOLDER_MICROS || micros >= END_PLACEHOLDER_MICROS) return;
  const at = placeholderAt(buffer, start, end);
  if (at < 0) throw new Error('COPY data: no timestamp placeholder where the query puts one');
  const days = Math.floor(micros / MICROS_A_DAY);
  writeDate(buffer, at, days + DAYS_1970_TO_2000);
  // Below 2^31 from here: integer arithmetic. The placeholder's `-`, `T`, `:`, `.` and `Z` are where the text has them.
  const microsOfDay = micros - days * MICROS_A_DAY;
  const secondsOfDay = Math.floor(microsOfDay / 1_000_000);
  const hours = (secondsOfDay / 3600) | 0;
  const minutes = ((secondsOfDay - hours * 3600) / 60) | 0;
  writeTwo(buffer, at + 11, hours);
  writeTwo(buffer, at + 14, minutes);
  writeTwo(buffer, at + 17, secondsOfDay - hours * 3600 - minutes * 60);
  let fraction = microsOfDay - secondsOfDay * 1_000_000;
  for (let i = at + 25; i >= at + 20; i -= 1) {
    const next = (fraction / 10) | 0;
    buffer[i] = 0x30 + fraction - next * 10;
    fraction = next;
  }
}

const MICROS_A_DAY = 86_400_000_000;
/** 1900-01-01 and 2200-01-01 in microseconds since 2000-01-01: {@link placeholderTimestamp}'s range. */
const FIRST_PLACEHOLDER_MICROS = -36_524 * MICROS_A_DAY;
const END_PLACEHOLDER_MICROS = 73_049 * MICROS_A_DAY;
const DAYS_1970_TO_2000 = 10_957;
const KEY = Buffer.from(',"timestamp":"', 'latin1');
const QUOTE = 0x22;

/**
 * Where the placeholder starts in the entry's JSON (`start` to `end`), or -1. The query writes `{"id":` first, then
 * the id, then `,"timestamp":"`: found at once after a numeric id (the key's frame read), else by a search for the
 * key, which a JSON string cannot hold (its quotes would be escaped). The server writes there either a timestamp's
 * text, which starts with a digit or a sign, or the placeholder: its `_`, its `T` and its closing `Z"` tell which.
 */
function placeholderAt(buffer: Buffer, start: number, end: number): number {
  let key = start + 6;
  if (buffer[key] === QUOTE) {
    key += 1;
    while (key < end && (buffer[key] as number) >= 0x30 && (buffer[key] as number) <= 0x39) key += 1;
    key = buffer[key] === QUOTE ? key + 1 : -1;
  }
  const framed = key >= 0 && buffer[key] === 0x2c && buffer[key + 1] === QUOTE && buffer[key + 2] === 0x74 && buffer[key + 11] === QUOTE
    && buffer[key + 12] === 0x3a && buffer[key + 13] === QUOTE;
  if (!framed) key = buffer.indexOf(KEY, start);
  if (key < 0) return -1;
  const at = key + KEY.length;
  return at + TIMESTAMP_PLACEHOLDER.length < end && buffer[at] === 0x5f && buffer[at + 10] === 0x54 && buffer[at + 26] === 0x5a
    && buffer[at + 27] === QUOTE ? at : -1;
}

/** The digits of YYYY-MM-DD for days since 1970-01-01 (Howard Hinnant's civil_from_days). */
function writeDate(buffer: Buffer, at: number, days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = ((dayOfEra - ((dayOfEra / 1460) | 0) + ((dayOfEra / 36_524) | 0) - ((dayOfEra / 146_096) | 0)) / 365) | 0;
  const dayOfYear = dayOfEra - (365 * yearOfEra + ((yearOfEra / 4) | 0) - ((yearOfEra / 100) | 0));
  const shifted = ((5 * dayOfYear + 2) / 153) | 0;
  const month = shifted < 10 ? shifted + 3 : shifted - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const century = (year / 100) | 0;
  writeTwo(buffer, at, century);
  writeTwo(buffer, at + 2, year - century * 100);
  writeTwo(buffer, at + 5, month);
  writeTwo(buffer, at + 8, dayOfYear - (((153 * shifted + 2) / 5) | 0) + 1);
}

/** A number from 0 to 99 as two digits. */
function writeTwo(buffer: Buffer, at: number, value: number): void {
  const tens = (value / 10) | 0;
  buffer[at] = 0x30 + tens;
  buffer[at + 1] = 0x30 + value - tens * 10;
}
