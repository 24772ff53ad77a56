import type { AuditEntry } from '../entry.js';
import { operationColor, type Colors } from './colors.js';
import { displayWidth, sanitizeForTerminal } from './terminal-text.js';

export interface RenderTableOptions {
  colors: Colors;
  /** Terminal columns: the table is fitted to them. Leave undefined when stdout is not a terminal. */
  width?: number;
}

/** What {@link renderTable} returns for no entries; a caller that wants it on stderr checks `entries.length`. */
export const NO_ENTRIES_MESSAGE = 'No audit entries match.';

const HEAD = ['ID', 'TIME', 'OPERATOR', 'OPERATION', 'RESOURCE', 'SOURCE IP', 'SOURCE'];
const SEPARATOR = '  ';

/**
 * Which columns give up width first when the terminal is too narrow: the free-text OPERATOR and RESOURCE, down to
 * 12 columns each; then SOURCE IP and SOURCE down to 8; then those and OPERATION down to 4; only then ID and TIME,
 * which a reader needs whole (an ID is what `show` takes), and everything down to 1.
 */
const SHRINK_STAGES: readonly { columns: readonly number[]; min: number }[] = [
  { columns: [2, 4], min: 12 },
  { columns: [5, 6], min: 8 },
  { columns: [2, 4, 5, 6, 3], min: 4 },
  { columns: [0, 1, 2, 3, 4, 5, 6], min: 1 },
];

/**
 * Entries as a borderless table, as text without a final newline: columns separated by two spaces, so the output
 * reads (and greps) like `ps` or `kubectl get`. With `width`, no line is wider than it (for any width of at least 19,
 * the seven 1-column minimums plus separators): long values are cut with `…`. Without it every value is printed in
 * full. All styling comes from `colors`, so with colours disabled there is not a single ANSI code. Values are
 * escaped by {@link sanitizeForTerminal}. Laid out here rather than by a table library: cli-table3 took 41 to 67 ms
 * (plus 11 to 16 ms to import) for the 50 rows of a default `list`, more than the whole 50 ms start-up budget.
 */
export function renderTable(entries: readonly AuditEntry[], options: RenderTableOptions): string {
  if (entries.length === 0) return NO_ENTRIES_MESSAGE;
  const { colors } = options;
  const rows = entries.map(toCells);
  const natural = naturalWidths(rows);
  const widths = options.width === undefined ? natural : fitWidths(natural, options.width);
  const line = (cells: readonly string[], style: (text: string, column: number) => string) =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        const text = truncate(cell, width);
        const padding = column === cells.length - 1 ? '' : ' '.repeat(Math.max(0, width - displayWidth(text)));
        return style(text, column) + padding;
      })
      .join(SEPARATOR)
      .trimEnd();
  const lines = [line(HEAD, (text) => colors.bold(text))];
  rows.forEach((cells, index) => {
    const operation = entries[index]?.operation;
    lines.push(line(cells, (text, column) => (column === 3 && operation ? operationColor(colors, operation)(text) : text)));
  });
  return lines.join('\n');
}

/** `text` cut to `width` terminal columns, ending in `…` when anything was cut. */
function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = displayWidth(char);
    if (used + size > width - 1) break;
    out += char;
    used += size;
  }
  return `${out}…`;
}

function toCells(entry: AuditEntry): string[] {
  const resource = [entry.resource_type, entry.resource_name || entry.resource_id].filter(Boolean).join(':');
  const time = formatTime(entry.timestamp);
  return [entry.id, time, entry.operator, entry.operation, resource, entry.source_ip, entry.source].map((value) =>
    value ? sanitizeForTerminal(value) : '-',
  );
}

/** `YYYY-MM-DD HH:MM:SS` in UTC; a timestamp that does not parse is shown as it is rather than hidden. */
export function formatTime(timestamp: string): string {
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? timestamp : date.toISOString().slice(0, 19).replace('T', ' ');
}

function naturalWidths(rows: readonly string[][]): number[] {
  return HEAD.map((title, column) => Math.max(title.length, ...rows.map((cells) => displayWidth(cells[column] ?? ''))));
}

/**
 * Column widths that fit `width`: takes one column at a time from the widest column of the earliest stage that
 * still has room, so long values are cut evenly instead of one column collapsing. Columns are never widened.
 */
export function fitWidths(natural: readonly number[], width: number): number[] {
  const widths = [...natural];
  let excess = widths.reduce((sum, w) => sum + w, 0) + SEPARATOR.length * (widths.length - 1) - width;
  for (const stage of SHRINK_STAGES) {
    while (excess > 0) {
      let widest: number | undefined;
      for (const column of stage.columns) {
        const current = widths[column] ?? 0;
        if (current > stage.min && (widest === undefined || current > (widths[widest] ?? 0))) widest = column;
      }
      if (widest === undefined) break;
      widths[widest] = (widths[widest] ?? 0) - 1;
      excess -= 1;
    }
  }
  return widths;
}
