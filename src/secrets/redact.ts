/**
 * Last line of defence for secrets in messages: values registered here (database passwords, sink tokens) are
 * replaced wherever they appear in text printed by main.ts, whatever library produced the message.
 *
 * Only whole values are replaced, never part of a longer word, and never values shorter than MIN_SECRET_LENGTH:
 * redacting `oken` in `Invalid token` hides the message and reveals the secret's shape. A shorter secret is not
 * redacted; messages do not carry secrets in the first place (database URLs are printed through maskUrl, sink URLs
 * with `//***@`, credentials travel only in request headers, and PostgreSQL's errors never quote a password), so this
 * pass only guards against a library or a server repeating one.
 */
export const MIN_SECRET_LENGTH = 8;
export const REDACTED = '******';

const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= MIN_SECRET_LENGTH) secrets.add(value);
}

export function redactSecrets(text: string): string {
  return redactValues(text, secrets);
}

/** Replaces every whole occurrence of each value of at least `minLength` characters with `replacement`. */
export function redactValues(text: string, values: Iterable<string>, replacement = REDACTED, minLength = MIN_SECRET_LENGTH): string {
  let result = text;
  for (const value of values) {
    if (value.length >= Math.max(1, minLength)) result = replaceWhole(result, value, replacement);
  }
  return result;
}

function replaceWhole(text: string, value: string, replacement: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + 1)) {
    if (at < from || !startsValue(text, at, value) || !endsValue(text, at + value.length, value)) continue;
    out += text.slice(from, at) + replacement;
    from = at + value.length;
  }
  return out + text.slice(from);
}

const WORD = /[\p{L}\p{N}]/u;

/** A value starts at `at` unless a letter or digit of the same word comes just before it. */
function startsValue(text: string, at: number, value: string): boolean {
  if (at === 0 || !WORD.test(value[0] ?? '') || !WORD.test(text[at - 1] ?? '')) return true;
  // An escape just before it (`%3D`, `\n`, `\u00e9`) ends the previous word: `token%3Dsecret` is the secret.
  return /%[0-9A-Fa-f]{2}$|\\[a-z]$|\\u[0-9A-Fa-f]{4}$/.test(text.slice(Math.max(0, at - 6), at));
}

/** A value ends at `end` unless a letter or digit of the same word comes just after it. */
function endsValue(text: string, end: number, value: string): boolean {
  return end === text.length || !WORD.test(value[value.length - 1] ?? '') || !WORD.test(text[end] ?? '');
}
