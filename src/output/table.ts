import type { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import type CliTable3 from 'cli-table3';
import type { AuditEntry } from '../domain.js';
import { operationColor, type Colors } from './colors.js';
import { sanitizeForTerminal } from './terminal-text.js';
import { waitForDrain } from './writers.js';
import { formatTime } from './time-zone.js';

export interface TableOptions {
  colors: Colors;
  /** Terminal columns: the table is fitted to them. Leave undefined when stdout is not a terminal (nothing is cut). */
  width?: number;
  /** `--wide`: every column, every value whole, even on a narrow terminal. */
  wide?: boolean;
  /** IANA zone for the TIME column (`--local`, API7_AUDIT_TZ); UTC when undefined. The header names it. */
  timeZone?: string;
  /** `--fields`: the columns to show, in this order (see {@link TABLE_FIELDS}); every default column when undefined. */
  fields?: readonly TableField[];
}

/** What a table of no entries prints; {@link printTable} writes it to stderr, keeping stdout for data. */
export const NO_ENTRIES_MESSAGE = 'No audit entries match.';

/** Rows that size the columns; later rows keep those widths, so `list --all` streams in flat memory. */
export const FIRST_PAGE_ROWS = 100;

interface Column {
  field: TableField;
  head: string;
  /** Whether a value may be cut with `…` to fit the terminal: never the ID (what `show` takes), TIME or SOURCE IP. */
  cut: boolean;
}

/** What `--fields` may name for the table: the canonical names, and `resource` for TYPE:NAME (the default). */
export const TABLE_FIELDS = ['id', 'timestamp', 'operator', 'operation', 'resource', 'resource_type', 'resource_id', 'resource_name', 'source_ip', 'source'] as const;
export type TableField = (typeof TABLE_FIELDS)[number];

const ALL_COLUMNS: Readonly<Record<TableField, Column>> = {
  id: { field: 'id', head: 'ID', cut: false },
  timestamp: { field: 'timestamp', head: 'TIME', cut: false },
  operator: { field: 'operator', head: 'OPERATOR', cut: true },
  operation: { field: 'operation', head: 'OPERATION', cut: true },
  resource: { field: 'resource', head: 'RESOURCE', cut: true },
  resource_type: { field: 'resource_type', head: 'TYPE', cut: true },
  resource_id: { field: 'resource_id', head: 'RESOURCE ID', cut: false },
  resource_name: { field: 'resource_name', head: 'NAME', cut: true },
  source_ip: { field: 'source_ip', head: 'SOURCE IP', cut: false },
  source: { field: 'source', head: 'SOURCE', cut: true },
};
const DEFAULT_FIELDS: readonly TableField[] = ['id', 'timestamp', 'operator', 'operation', 'resource', 'source_ip', 'source'];
const SEPARATOR = 2;

/** The columns of a table: `fields` in order, the TIME header naming its zone. */
function tableColumns(options: Pick<TableOptions, 'fields' | 'timeZone'>): Column[] {
  return (options.fields ?? DEFAULT_FIELDS).map((field) =>
    field === 'timestamp' ? { ...ALL_COLUMNS.timestamp, head: `TIME (${options.timeZone ?? 'UTC'})` } : ALL_COLUMNS[field],
  );
}

/**
 * On a terminal too narrow for every column, the first of these that fits is used, like kubectl's narrow output:
 * cut OPERATOR and RESOURCE to 12 columns, drop SOURCE, cut them down to their header, then drop OPERATION, then
 * RESOURCE and OPERATOR. ID, TIME and SOURCE IP always stay whole; when they alone are wider, the line overflows.
 */
const NARROWING: readonly { hidden: readonly TableField[]; min: number }[] = [
  { hidden: [], min: 12 },
  { hidden: ['source'], min: 12 },
  { hidden: ['source'], min: 0 },
  { hidden: ['source', 'operation'], min: 0 },
  { hidden: ['source', 'operation', 'resource', 'resource_type', 'resource_name'], min: 0 },
  { hidden: ['source', 'operation', 'resource', 'resource_type', 'resource_name', 'operator'], min: 0 },
];

/** Which columns are shown and how wide their content is (without the two-space separator). */
export interface Layout {
  columns: number[];
  widths: number[];
}

/** Columns a string takes on a terminal: string-width (cli-table3's own measure), skipped for printable ASCII. */
export type Measure = (text: string) => number;

interface Libraries {
  Table: typeof CliTable3;
  measure: Measure;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** cli-table3 and string-width, loaded only for table output: `--version` and machine outputs never pay for them. */
export async function loadTableLibraries(): Promise<Libraries> {
  const [{ default: Table }, { default: stringWidth }] = await Promise.all([import('cli-table3'), import('string-width')]);
  return { Table, measure: (text) => (PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text)) };
}

/**
 * Prints entries as a borderless table (columns two spaces apart, like `kubectl get`), streaming: the first
 * {@link FIRST_PAGE_ROWS} rows size the columns and are laid out by cli-table3; each later row keeps those widths.
 * A later value too wide for its column is cut with `…` where cutting is allowed (a terminal, no `--wide`, not ID,
 * TIME or SOURCE IP), else printed whole, pushing the rest of its line right. Values pass {@link sanitizeForTerminal}.
 */
export async function printTable(entries: AsyncIterable<AuditEntry>, out: Writable, stderr: Writable, options: TableOptions): Promise<void> {
  const libraries = await loadTableLibraries();
  const firstPage: AuditEntry[] = [];
  let formatter: RowFormatter | undefined;
  let pending = '';
  for await (const entry of entries) {
    if (formatter === undefined) {
      firstPage.push(entry);
      if (firstPage.length < FIRST_PAGE_ROWS) continue;
      formatter = createRowFormatter(firstPage, options, libraries);
      await send(out, `${formatter.firstPage}\n`);
      continue;
    }
    pending += `${formatter.format(entry)}\n`;
    if (pending.length >= 65_536) {
      await send(out, pending);
      pending = '';
    }
  }
  if (formatter === undefined) {
    if (firstPage.length === 0) {
      stderr.write(`${NO_ENTRIES_MESSAGE}\n`);
      return;
    }
    pending = `${createRowFormatter(firstPage, options, libraries).firstPage}\n`;
  }
  await send(out, pending);
}

/** The whole table as one string without a final newline: {@link printTable} for entries already in memory. */
export function renderTable(entries: readonly AuditEntry[], options: TableOptions, libraries: Libraries): string {
  if (entries.length === 0) return NO_ENTRIES_MESSAGE;
  const formatter = createRowFormatter(entries.slice(0, FIRST_PAGE_ROWS), options, libraries);
  return [formatter.firstPage, ...entries.slice(FIRST_PAGE_ROWS).map((entry) => formatter.format(entry))].join('\n');
}

export interface RowFormatter {
  /** Header and first-page rows, laid out by cli-table3. */
  firstPage: string;
  format(entry: AuditEntry): string;
}

export function createRowFormatter(firstPage: readonly AuditEntry[], options: TableOptions, { Table, measure }: Libraries): RowFormatter {
  const { colors } = options;
  const COLUMNS = tableColumns(options);
  const OPERATION = COLUMNS.findIndex((column) => column.field === 'operation');
  const toCells = (entry: AuditEntry) => COLUMNS.map((column) => cellOf(entry, column.field, options.timeZone));
  const rows = firstPage.map(toCells);
  const natural = COLUMNS.map((column, index) => rows.reduce((max, cells) => Math.max(max, measure(cells[index] ?? '')), column.head.length));
  const cutAllowed = options.width !== undefined && options.wide !== true;
  const layout = cutAllowed ? fitLayout(natural, options.width ?? Infinity, COLUMNS) : { columns: COLUMNS.map((_, index) => index), widths: natural };
  /** The shown cells, cut to `widths` where allowed (cli-table3's own cut splits a 🚀 in half), then coloured. */
  const shown = (cells: readonly string[], widths: readonly number[], operation: string | null) =>
    layout.columns.map((column, index) => {
      const width = widths[index] ?? 0;
      const whole = cells[column] ?? '';
      const text = cutAllowed && COLUMNS[column]?.cut && measure(whole) > width ? cutToWidth(whole, width, measure) : whole;
      return column === OPERATION && operation ? operationColor(colors, operation)(text) : text;
    });
  const table = new Table({
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': SEPARATOR },
    colWidths: layout.widths.map((width) => width + SEPARATOR),
    head: layout.columns.map((column) => colors.bold(COLUMNS[column]?.head ?? '')),
  });
  table.push(...rows.map((cells, index) => shown(cells, layout.widths, firstPage[index]?.operation ?? null)));
  return {
    firstPage: table.toString().split('\n').map((line) => line.trimEnd()).join('\n'),
    format(entry) {
      const cells = toCells(entry);
      const widths = [...layout.widths];
      let overflow = 0;
      layout.columns.forEach((column, index) => {
        const width = measure(cells[column] ?? '');
        const room = widths[index] ?? 0;
        if (width > room && !(cutAllowed && COLUMNS[column]?.cut)) {
          overflow += width - room;
          widths[index] = width;
        }
      });
      // A whole value wider than its column takes the room from the cut columns of its row, so the line still fits.
      if (cutAllowed) giveBack(COLUMNS, layout.columns, widths, overflow);
      // What cli-table3 prints for cells that fit (left-aligned, padded to the column; the unit test compares the
      // two), without its 0.3-0.7 ms per row: 200,000 rows would take over a minute.
      return shown(cells, widths, entry.operation)
        .map((text, index) => text + ' '.repeat(Math.max(0, (widths[index] ?? 0) - measure(stripVTControlCharacters(text)))))
        .join('  ')
        .trimEnd();
    },
  };
}

let graphemes: Intl.Segmenter | undefined;

/** `text` cut to `width` terminal columns at a grapheme boundary, ending in `…`. */
export function cutToWidth(text: string, width: number, measure: Measure): string {
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const size = measure(segment);
    if (used + size > width - 1) break;
    out += segment;
    used += size;
  }
  return `${out}…`;
}

/** Narrows the widest cut column by one, `overflow` times, never below its header. */
function giveBack(COLUMNS: readonly Column[], columns: readonly number[], widths: number[], overflow: number): void {
  let left = overflow;
  while (left > 0) {
    let widest: number | undefined;
    columns.forEach((column, index) => {
      const spare = (widths[index] ?? 0) - (COLUMNS[column]?.head.length ?? 0);
      if (COLUMNS[column]?.cut && spare > 0 && (widest === undefined || (widths[index] ?? 0) > (widths[widest] ?? 0))) widest = index;
    });
    if (widest === undefined) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    left -= 1;
  }
}

const BORDERLESS = Object.fromEntries(
  ['top', 'top-mid', 'top-left', 'top-right', 'bottom', 'bottom-mid', 'bottom-left', 'bottom-right', 'left', 'left-mid', 'mid', 'mid-mid', 'right', 'right-mid', 'middle'].map((name) => [name, '']),
);

/**
 * The columns to show and their widths within `width`: the first {@link NARROWING} step whose minimum fits, then
 * cut columns share out the room, the widest cut first (one water level), so a long value does not starve the others.
 */
export function fitLayout(natural: readonly number[], width: number, COLUMNS: readonly Column[] = tableColumns({})): Layout {
  const all = COLUMNS.map((_, index) => index);
  let fallback: Layout = { columns: all, widths: [...natural] };
  for (const step of NARROWING) {
    const columns = all.filter((column) => !step.hidden.includes(COLUMNS[column]?.field ?? 'id'));
    const floor = columns.map((column) => {
      const own = natural[column] ?? 0;
      return COLUMNS[column]?.cut ? Math.min(own, Math.max(COLUMNS[column]?.head.length ?? 0, step.min)) : own;
    });
    const total = (widths: readonly number[]) => widths.reduce((sum, w) => sum + w, 0) + SEPARATOR * (widths.length - 1);
    fallback = { columns, widths: floor };
    if (total(floor) > width) continue;
    const at = (level: number) => columns.map((column, index) => (COLUMNS[column]?.cut ? Math.max(floor[index] ?? 0, Math.min(natural[column] ?? 0, level)) : (floor[index] ?? 0)));
    let low = 0;
    let high = Math.max(...columns.map((column) => natural[column] ?? 0));
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (total(at(mid)) <= width) low = mid;
      else high = mid - 1;
    }
    const widths = at(low);
    let spare = width - total(widths);
    columns.forEach((column, index) => {
      if (spare > 0 && (widths[index] ?? 0) < (natural[column] ?? 0)) {
        widths[index] = (widths[index] ?? 0) + 1;
        spare -= 1;
      }
    });
    return { columns, widths };
  }
  return fallback;
}

/** One cell as the terminal shows it: `-` for a missing value, control characters escaped. */
function cellOf(entry: AuditEntry, field: TableField, timeZone: string | undefined): string {
  const value =
    field === 'resource'
      ? [entry.resource_type, entry.resource_name || entry.resource_id].filter(Boolean).join(':')
      : field === 'timestamp'
        ? formatTime(entry.timestamp, timeZone)
        : entry[field];
  return value ? sanitizeForTerminal(value) : '-';
}

/** Writes `text`, resolving once `out` has room again; rejects if `out` fails or closes first. */
async function send(out: Writable, text: string): Promise<void> {
  if (text !== '' && !out.write(text)) await waitForDrain(out);
}
