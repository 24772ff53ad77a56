/**
 * `JSON.stringify(JSON.parse(text))` for JSON text as PostgreSQL's jsonb output writes it (`{"a": 1, "b": [2, 3]}`),
 * held as a byte string (src/byte-string.ts), without building the objects: whitespace outside strings goes, and a
 * number that JavaScript would print differently (`1.0`, `1.50`, `-0`, an integer beyond 15 digits) is printed as
 * JavaScript prints it. Strings stay as they are: jsonb escapes exactly what JSON.stringify escapes (`"`, `\`, and
 * control characters, `\n` or `\u001f`), and the bytes of a multi-byte character are characters of their own that
 * neither escapes. An object key that is an array index (`"10"`), which JavaScript moves ahead of the other keys,
 * sends the text through JSON.parse and JSON.stringify themselves, as does anything not in that form.
 */
export function compactJsonBytes(text: string): string {
  let out = '';
  let from = 0;
  let at = 0;
  const length = text.length;
  while (at < length) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const end = stringEnd(text, at);
      if (end < 0) return reparse(text);
      if (text.charCodeAt(end) === COLON && isIndexKey(text, at + 1, end - 1)) return reparse(text);
      at = end;
    } else if (code === SPACE || code === NEWLINE || code === RETURN || code === TAB) {
      out += text.slice(from, at);
      at += 1;
      from = at;
    } else if (code === MINUS || (code >= ZERO && code <= NINE)) {
      const end = numberEnd(text, at);
      if (!isJsNumber(text, at, end)) {
        out += text.slice(from, at) + JSON.stringify(Number(text.slice(at, end)));
        from = end;
      }
      at = end;
    } else {
      at += 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

function reparse(text: string): string {
  return JSON.stringify(JSON.parse(text));
}

/** Past the closing quote of the string opening at `at`, or -1. */
function stringEnd(text: string, at: number): number {
  let quote = text.indexOf('"', at + 1);
  while (quote > 0 && isEscaped(text, quote)) quote = text.indexOf('"', quote + 1);
  return quote < 0 ? -1 : quote + 1;
}

/** An odd run of backslashes before `at` escapes it. */
function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
  return backslashes % 2 === 1;
}

function numberEnd(text: string, at: number): number {
  let end = at + 1;
  for (;;) {
    const code = text.charCodeAt(end);
    if ((code >= ZERO && code <= NINE) || code === DOT || code === MINUS || code === PLUS || code === LOWER_E || code === UPPER_E) end += 1;
    else return end;
  }
}

/** Digits only, no leading zero, at most 15 of them (exact in a double): printed by JavaScript as they are. */
function isJsNumber(text: string, start: number, end: number): boolean {
  let at = text.charCodeAt(start) === MINUS ? start + 1 : start;
  const digits = end - at;
  if (digits < 1 || digits > 15) return false;
  if (text.charCodeAt(at) === ZERO) return digits === 1 && at === start;
  for (; at < end; at += 1) {
    const code = text.charCodeAt(at);
    if (code < ZERO || code > NINE) return false;
  }
  return true;
}

/** Whether the key from `start` to `end` (its characters, without quotes) is an array index, 0 to 2^32 - 2. */
function isIndexKey(text: string, start: number, end: number): boolean {
  const first = text.charCodeAt(start);
  if (first < ZERO || first > NINE || end - start > 10) return false;
  if (first === ZERO) return end - start === 1;
  for (let at = start + 1; at < end; at += 1) {
    const code = text.charCodeAt(at);
    if (code < ZERO || code > NINE) return false;
  }
  return Number(text.slice(start, end)) < 4294967295;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const TAB = 0x09;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
