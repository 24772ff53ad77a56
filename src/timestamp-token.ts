/**
 * Epoch milliseconds of a timestamp token as the export query writes it, a JSON string in one fixed form
 * (`"2026-11-25T18:54:49.014123Z"`), read by position: what Date.parse gives for the same text (the microseconds cut
 * to the millisecond), a fraction of its cost and without decoding the token first. Undefined for anything else,
 * including a day the month does not have and years before 100, which the caller leaves to Date.parse.
 */
export function timestampTokenMs(token: string): number | undefined {
  return token.length === TOKEN_LENGTH ? timestampTokenMsAt(token, 0) : undefined;
}

const TOKEN_LENGTH = 29;

/** {@link timestampTokenMs} of the token that starts at `at` of `text` and is 29 characters long (HEC reads it in place). */
export function timestampTokenMsAt(text: string, at: number): number | undefined {
  if (text.charCodeAt(at) !== QUOTE || text.charCodeAt(at + 28) !== QUOTE || text.charCodeAt(at + 27) !== UPPER_Z) return undefined;
  const separated = text.charCodeAt(at + 5) === DASH && text.charCodeAt(at + 8) === DASH && text.charCodeAt(at + 11) === UPPER_T
    && text.charCodeAt(at + 14) === COLON && text.charCodeAt(at + 17) === COLON && text.charCodeAt(at + 20) === DOT;
  if (!separated) return undefined;
  const year = digits(text, at + 1, at + 5);
  const month = digits(text, at + 6, at + 8);
  const day = digits(text, at + 9, at + 11);
  const hour = digits(text, at + 12, at + 14);
  const minute = digits(text, at + 15, at + 17);
  const second = digits(text, at + 18, at + 20);
  const millisecond = digits(text, at + 21, at + 24);
  const inRange = year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59
    && second >= 0 && second <= 59 && millisecond >= 0 && digits(text, at + 24, at + 27) >= 0;
  if (!inRange) return undefined;
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millisecond;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil): what Date.UTC computes, in
 * plain arithmetic, several times faster than the call for the export's one timestamp an entry.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** The decimal number from `start` to `end`, or -1 when a character is not a digit. */
function digits(text: string, start: number, end: number): number {
  let value = 0;
  for (let at = start; at < end; at += 1) {
    const digit = text.charCodeAt(at) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const QUOTE = 0x22;
const UPPER_Z = 0x5a;
const ZERO = 0x30;
const DASH = 0x2d;
const UPPER_T = 0x54;
const COLON = 0x3a;
const DOT = 0x2e;
