import measureWidth from 'string-width';
import type { AuditEntry } from '../domain.js';
import type { Change } from './changes.js';
import { operationColor, type Colors } from './colors.js';
import { stableStringify } from './stable-json.js';
import { sanitizeForTerminal } from './terminal-text.js';
import { formatTime } from './time-zone.js';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Terminal columns of a text: string-width (CJK and emoji take two), skipped for printable ASCII. */
const stringWidth = (text: string): number => (PRINTABLE_ASCII.test(text) ? text.length : measureWidth(text));

/** One change of a resource's timeline: the entry (masked) and the leaf changes it made. */
export interface TimelineItem {
  entry: AuditEntry;
  changes: Change[];
}

/** A value in a compact change line is cut after this many characters; `--output json` has them whole. */
const MAX_VALUE_CHARS = 60;
/** Change lines under one entry at most; the rest are counted. */
const MAX_CHANGE_LINES = 20;

const HEADS = ['TIME', 'ID', 'OPERATOR', 'OPERATION', 'SOURCE IP'] as const;

/** The timeline as text: one line per entry (time, id, operator, operation, source IP), its changes indented under it. */
export function renderTimeline(items: readonly TimelineItem[], colors: Colors): string {
  const rows = items.map(({ entry }) => [formatTime(entry.timestamp), entry.id, entry.operator, entry.operation, entry.source_ip].map(cell));
  // Columns on the terminal, not code units: an operator named in CJK or with an emoji takes two a character.
  // A loop, not Math.max(...): a resource with 200,000 entries would overflow the stack.
  const widths = HEADS.map((head, column) => rows.reduce((width, row) => Math.max(width, stringWidth(row[column] ?? '')), head.length));
  const line = (cells: readonly string[], operation?: string | null) =>
    cells
      .map((text, column) => {
        const padded = text + ' '.repeat(Math.max(0, (widths[column] ?? 0) - stringWidth(text)));
        return column === 3 && operation ? operationColor(colors, operation)(padded) : padded;
      })
      .join('  ')
      .trimEnd();
  const out = [colors.bold(line(HEADS))];
  items.forEach((item, index) => {
    out.push(line(rows[index] ?? [], item.entry.operation));
    out.push(...describeChanges(item.changes, colors).map((text) => `    ${text}`));
  });
  return out.join('\n');
}

/** `$.uri: "/a" -> "/b"`, `+ $.plugins.cors: {...}`, `- $.hosts[1]: "x"`; `(no change to the state)` when empty. */
export function describeChanges(changes: readonly Change[], colors: Colors): string[] {
  if (changes.length === 0) return [colors.dim('(no change to the state)')];
  const lines = changes.slice(0, MAX_CHANGE_LINES).map((change) => {
    const path = sanitizeForTerminal(change.path);
    if (!('before' in change)) return colors.green(`+ ${path}: ${compactValue(change.after)}`);
    if (!('after' in change)) return colors.red(`- ${path}: ${compactValue(change.before)}`);
    return `~ ${path}: ${colors.red(compactValue(change.before))} -> ${colors.green(compactValue(change.after))}`;
  });
  if (changes.length > MAX_CHANGE_LINES) lines.push(colors.dim(`... and ${changes.length - MAX_CHANGE_LINES} more changes (--output json lists them all)`));
  return lines;
}

function compactValue(value: unknown): string {
  const text = sanitizeForTerminal(stableStringify(value, 0));
  if (text.length <= MAX_VALUE_CHARS) return text;
  // By code point: a cut between the halves of a surrogate pair would print a lone one.
  const high = text.charCodeAt(MAX_VALUE_CHARS - 2);
  return `${text.slice(0, high >= 0xd800 && high <= 0xdbff ? MAX_VALUE_CHARS - 2 : MAX_VALUE_CHARS - 1)}…`;
}

/** `-` for no value; a value that would read the same (`-`) or print nothing (``) is quoted. */
function cell(value: string | null): string {
  if (value === null) return '-';
  return value === '' || value === '-' ? JSON.stringify(value) : sanitizeForTerminal(value);
}
