/**
 * Epoch milliseconds of a timestamp token as the export query writes it, a JSON string in one fixed form
 * (`"2026-11-25T18:54:49.014123Z"`), read by position: what Date.parse gives for the same text (the microseconds cut
 * to the millisecond), about a third of its cost and without decoding the token first. Undefined for anything
 * else, including days past the 28th and years before 100, which the caller leaves to Date.parse.
 */
export function timestampTokenMs(token: string): number | undefined {
  if (token.length !== 29 || token.charCodeAt(0) !== QUOTE || token.charCodeAt(28) !== QUOTE || token.charCodeAt(27) !== UPPER_Z) return undefined;
  const separated = token.charCodeAt(5) === DASH && token.charCodeAt(8) === DASH && token.charCodeAt(11) === UPPER_T
    && token.charCodeAt(14) === COLON && token.charCodeAt(17) === COLON && token.charCodeAt(20) === DOT;
  if (!separated) return undefined;
  const year = digits(token, 1, 5);
  const month = digits(token, 6, 8);
  const day = digits(token, 9, 11);
  const hour = digits(token, 12, 14);
  const minute = digits(token, 15, 17);
  const second = digits(token, 18, 20);
  const millisecond = digits(token, 21, 24);
  const inRange = year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59
    && second >= 0 && second <= 59 && millisecond >= 0 && digits(token, 24, 27) >= 0;
  if (!inRange) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, millisecond);
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
