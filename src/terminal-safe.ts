/**
 * Audit data is written by whoever could call the Admin API, so a resource name may hold an escape sequence that
 * repaints or retitles the auditor's terminal, a newline that forges a table row, or a bidi override that makes
 * text read differently from what it is. Human-readable output (table, show, diff) passes every value through
 * here; machine output (JSON, NDJSON, CSV) keeps the exact bytes.
 */
// U+2028 and U+2029 end a line for some viewers of saved output (editors, JavaScript and Python tools): a value
// holding one could forge a line there, as a newline would on the terminal.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Replaces control, line-separator and bidi-override characters with visible escapes (`\n`, `\u001b`, `\u2028`). */
export function sanitizeForTerminal(text: string): string {
  return text.replace(
    UNSAFE,
    (char) => SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
