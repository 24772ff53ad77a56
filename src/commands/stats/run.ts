import type { CliIo } from '../../io.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { withAuditTable } from '../../db/session.js';
import { withReadOnly } from '../../db/read-only.js';
import type { OpenPool } from '../../db/pool.js';
import { resolveResourceNames } from '../../queries/filters.js';
import { countGroups, findBusyDays, findFirstChanges, findNewAddresses, TIME_DIMENSIONS, type Dimension, type StatsRow } from '../../queries/stats.js';
import { createColors, shouldUseColor } from '../../output/colors.js';
import { csvQuote } from '../../output/csv.js';
import { writeJson } from '../../output/stable-json.js';
import { formatCount } from '../../output/terminal-text.js';
import { labelColumns, localeIsUtf8, renderBars, renderHeat, renderSparkline, WEEKDAYS, type Bar, type ChartStyle } from '../../output/stats-chart.js';
import type { EntryFilters } from '../../domain.js';
import { keyText, operatorNotes, renderUnusual, type Unusual } from './unusual.js';

export interface StatsOptions {
  filters: EntryFilters;
  /** One or two dimensions; undefined: the overview (operator, operation, resource, day, weekday x hour). */
  by?: Dimension[];
  output: 'table' | 'json' | 'csv';
  /** Groups drawn per view on a terminal; the rest are summed on one line. JSON and CSV have every group. */
  top: number;
  /** A day is unusual above this many times the operator's median day. */
  factor: number;
  ascii: boolean;
  /** Whether the "since" was the default (30d) rather than given. */
  defaultSince: boolean;
}

export interface StatsView {
  by: Dimension[];
  rows: StatsRow[];
}

export interface StatsResult {
  views: StatsView[];
  unusual?: Unusual;
}

export const OVERVIEW: readonly Dimension[][] = [['operator'], ['operation'], ['resource'], ['day'], ['weekday', 'hour']];

/** Runs one GROUP BY per view, and the unusual-activity checks, in one read-only transaction. */
export async function collectStats(options: StatsOptions, config: ResolvedConfig, early?: Promise<OpenPool>, note: (line: string) => void = () => undefined): Promise<StatsResult> {
  const views = options.by ? [options.by] : OVERVIEW;
  const wantsUnusual = options.filters.since !== undefined && (!options.by || options.by.includes('operator'));
  return withAuditTable(
    config,
    (table) =>
      withReadOnly(table.db, async (db) => {
        options = { ...options, filters: await resolveResourceNames(db, table.mapping, options.filters, note) };
        const result: StatsResult = { views: [] };
        for (const by of views) result.views.push({ by: [...by], rows: sortRows(by, await countGroups(db, table.mapping, options.filters, by)) });
        if (wantsUnusual) {
          result.unusual = {
            firstChanges: await findFirstChanges(db, table.mapping, options.filters),
            busyDays: await findBusyDays(db, table.mapping, options.filters, options.factor),
            newAddresses: await findNewAddresses(db, table.mapping, options.filters),
          };
        }
        return result;
      }),
    { early, activity: 'stats' },
  );
}

/** Time keys in time order, others largest group first (ties by key). */
function sortRows(by: readonly Dimension[], rows: StatsRow[]): StatsRow[] {
  const timeFirst = TIME_DIMENSIONS.has(by[0] as Dimension);
  const compare = (a: StatsRow, b: StatsRow) => compareKeys(by, a.keys, b.keys);
  return rows.sort((a, b) => (timeFirst ? compare(a, b) : b.count - a.count || compare(a, b)));
}

function compareKeys(by: readonly Dimension[], a: readonly (string | number | null)[], b: readonly (string | number | null)[]): number {
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i] ?? null, b[i] ?? null];
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    if (by[i] === 'day') return dayMs(String(x)) - dayMs(String(y));
    return x < y ? -1 : 1;
  }
  return 0;
}

/** A day key's midnight (UTC) in epoch ms: day keys in expanded years (-000043-03-15) do not sort as text. */
const dayMs = (day: string): number => Date.parse(`${day}T00:00:00Z`);

/** The day key of a Date: its ISO date, the expanded year outside 0000-9999 as the query prints it. */
function dayKey(date: Date): string {
  const iso = date.toISOString();
  return iso.slice(0, iso.indexOf('T'));
}

/** `api7-audit stats` */
export async function runStats(options: StatsOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  const result = await collectStats(options, config, early, (line) => io.stderr.write(`${line}\n`));
  if (options.output === 'json') io.stdout.write(`${writeJson(statsJson(result), { indent: 2 })}\n`);
  else if (options.output === 'csv') io.stdout.write(statsCsv(result, options.by !== undefined));
  else {
    const style: ChartStyle = {
      unicode: !options.ascii && localeIsUtf8(io.env),
      colors: createColors(shouldUseColor(io.stdoutIsTty, io.env)),
      // Piped: no terminal to fit, so nothing is squeezed (a long sparkline is not bucketed).
      width: io.stdoutIsTty && io.columns ? io.columns : Number.POSITIVE_INFINITY,
    };
    io.stdout.write(`${renderStats(result, options, style).join('\n')}\n`);
  }
}

/**
 * A key as the pictures name it: `(none)` for no value. A value that would read the same (an operator named
 * "(none)"), or that would print nothing (""), is quoted, so no one can pass for the entries without an operator.
 */

function groupObject(by: readonly Dimension[], row: StatsRow): Record<string, unknown> {
  const group: Record<string, unknown> = {};
  by.forEach((dimension, index) => (group[dimension] = row.keys[index] ?? null));
  group.count = row.count;
  return group;
}

export function statsJson(result: StatsResult) {
  return {
    views: result.views.map((view) => ({ by: view.by, total: total(view.rows), groups: view.rows.map((row) => groupObject(view.by, row)) })),
    ...(result.unusual
      ? {
          unusual: {
            first_changes: result.unusual.firstChanges,
            busy_days: result.unusual.busyDays,
            new_source_ips: result.unusual.newAddresses,
          },
        }
      : {}),
  };
}

/** With --by: one column per dimension and `count`. The overview: `view` (its dimensions), `key`, `key2`, `count`. */
export function statsCsv(result: StatsResult, single: boolean): string {
  const lines: string[] = [];
  const cell = (value: unknown) => csvQuote(value === null || value === undefined ? '' : String(value));
  const first = result.views[0];
  if (single && first) {
    lines.push([...first.by, 'count'].join(','));
    for (const row of first.rows) lines.push([...row.keys.map(cell), row.count].join(','));
  } else {
    lines.push('view,key,key2,count');
    for (const view of result.views) {
      for (const row of view.rows) lines.push([cell(view.by.join(',')), cell(row.keys[0]), cell(row.keys[1]), row.count].join(','));
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

const total = (rows: readonly StatsRow[]) => rows.reduce((sum, row) => sum + row.count, 0);

const TITLES: Record<Dimension, string> = {
  operator: 'operator', operation: 'operation', resource: 'resource type', source: 'source', ip: 'source IP',
  net: 'network (/24, /64)', day: 'day (UTC)', hour: 'hour of day (UTC)', weekday: 'weekday (UTC)',
};

/** The pictures, one block per view, then the unusual marks. */
export function renderStats(result: StatsResult, options: StatsOptions, style: ChartStyle): string[] {
  const out: string[] = [];
  const { colors } = style;
  const notes = operatorNotes(result.unusual);
  for (const view of result.views) {
    if (out.length > 0) out.push('');
    out.push(colors.bold(`By ${view.by.map((d) => TITLES[d]).join(' x ')}`) + colors.dim(`  ${formatCount(total(view.rows))} entries${options.defaultSince && view === result.views[0] ? ' in the last 30 days (--since to change)' : ''}`));
    if (view.rows.length === 0) {
      out.push(colors.dim('(no entries match)'));
      continue;
    }
    out.push(...renderView(view, options, style, notes));
  }
  if (result.unusual) out.push('', ...renderUnusual(result.unusual, options.factor, style));
  return out;
}

function renderView(view: StatsView, options: StatsOptions, style: ChartStyle, notes: Map<string, string>): string[] {
  const [a, b] = view.by as [Dimension, Dimension | undefined];
  if (b === undefined) {
    if (a === 'day' || a === 'hour') {
      const series = fillSeries(a, view.rows.map((row) => [row.keys[0] ?? null, row.count]));
      const spark = [renderSparkline('', series.keys, series.values, style), ...gapsNote(series, style)];
      if (!options.by) return spark;
      return [...spark, ...renderBars(series.keys.map((key, index) => ({ label: key, count: series.values[index] ?? 0 })), style)];
    }
    // The entries without an operator are not the operator named "null": unusual marks never name a missing one.
    const bars = view.rows.map((row) => ({ label: label(a, row.keys[0] ?? null), count: row.count, note: a === 'operator' && row.keys[0] !== null ? notes.get(String(row.keys[0])) : undefined }));
    return topBars(bars, a === 'weekday' ? Infinity : options.top, style);
  }
  if ((a === 'weekday' && b === 'hour') || (a === 'hour' && b === 'weekday')) {
    const cells = Array.from({ length: 7 }, () => Array.from({ length: 24 }, () => 0));
    for (const row of view.rows) {
      const [weekday, hour] = a === 'weekday' ? row.keys : [row.keys[1], row.keys[0]];
      const line = cells[Number(weekday) - 1];
      if (line && hour !== null && hour !== undefined) line[Number(hour)] = row.count;
    }
    return renderHeat(cells, style);
  }
  const timeIndex = TIME_DIMENSIONS.has(b) ? 1 : TIME_DIMENSIONS.has(a) ? 0 : -1;
  if (timeIndex >= 0) return renderSeriesPerGroup(view, timeIndex, options, style);
  return topBars(view.rows.map((row) => ({ label: `${label(a, row.keys[0] ?? null)} / ${label(b, row.keys[1] ?? null)}`, count: row.count })), options.top, style);
}

/** One sparkline per group of the other dimension, the busiest groups first. */
function renderSeriesPerGroup(view: StatsView, timeIndex: number, options: StatsOptions, style: ChartStyle): string[] {
  const timeDimension = view.by[timeIndex] as Dimension;
  const groupDimension = view.by[1 - timeIndex] as Dimension;
  // Keyed by the value, not its label: the entries without an operator and an operator named "(none)" are two groups.
  const groups = new Map<string | number | null, [string | number | null, number][]>();
  for (const row of view.rows) {
    const key = row.keys[1 - timeIndex] ?? null;
    const points = groups.get(key) ?? [];
    points.push([row.keys[timeIndex] ?? null, row.count]);
    groups.set(key, points);
  }
  const series = fillSeries(timeDimension, view.rows.map((row) => [row.keys[timeIndex] ?? null, 0]));
  const allKeys = series.keys;
  const ranked = [...groups.entries()]
    .map(([key, points]) => ({ group: label(groupDimension, key), points, sum: points.reduce((s, [, n]) => s + n, 0) }))
    .sort((x, y) => y.sum - x.sum);
  const shown = ranked.slice(0, options.top);
  const labelWidth = labelColumns(shown.map((g) => g.group), style.width);
  const lines = shown.map(({ group, points }) => {
    const counts = new Map<string, number>();
    for (const [key, n] of points) counts.set(keyLabel(timeDimension, key), (counts.get(keyLabel(timeDimension, key)) ?? 0) + n);
    return renderSparkline(group, allKeys, allKeys.map((key) => counts.get(key) ?? 0), style, labelWidth);
  });
  const rest = ranked.slice(options.top);
  if (rest.length > 0) lines.push(style.colors.dim(`(${rest.length} more: ${formatCount(rest.reduce((s, g) => s + g.sum, 0))} entries)`));
  return [...lines, ...gapsNote(series, style)];
}

function gapsNote(series: { keys: string[]; gapsLeftOut?: boolean }, style: ChartStyle): string[] {
  if (!series.gapsLeftOut) return [];
  return [style.colors.dim(`(the days span ${series.keys[0]} to ${series.keys.at(-1)}: only the ${formatCount(series.keys.length)} days with entries are drawn)`)];
}

function topBars(bars: Bar[], top: number, style: ChartStyle): string[] {
  const lines = renderBars(bars.slice(0, top), style);
  const rest = bars.slice(top);
  if (rest.length > 0) lines.push(style.colors.dim(`(${rest.length} more: ${formatCount(rest.reduce((sum, bar) => sum + bar.count, 0))} entries)`));
  return lines;
}

function label(dimension: Dimension, key: string | number | null): string {
  return keyLabel(dimension, key);
}

function keyLabel(dimension: Dimension, key: string | number | null): string {
  if (key === null) return '(none)';
  if (dimension === 'weekday') return WEEKDAYS[Number(key) - 1] ?? String(key);
  if (dimension === 'hour') return `${String(key).padStart(2, '0')}h`;
  return keyText(key);
}

/**
 * Days filled in between the first and the last at most: one entry dated 9999 (a clock gone wrong, an import) made
 * the overview build 2.9 million days and fail (call stack exceeded). Beyond this, only the days with entries.
 */
const MAX_FILLED_DAYS = 3660;

/** Every day between the first and the last (every hour, every weekday), with zero for the ones without entries. */
function fillSeries(dimension: Dimension, points: [string | number | null, number][]): { keys: string[]; values: number[]; gapsLeftOut?: boolean } {
  const counts = new Map<string, number>();
  for (const [key, n] of points) if (key !== null) counts.set(keyLabel(dimension, key), (counts.get(keyLabel(dimension, key)) ?? 0) + n);
  let keys: string[];
  if (dimension === 'hour') keys = Array.from({ length: 24 }, (_, hour) => keyLabel('hour', hour));
  else if (dimension === 'weekday') keys = WEEKDAYS.slice();
  else {
    const days = [...counts.keys()].sort((a, b) => dayMs(a) - dayMs(b));
    keys = [];
    const [first, last] = [days[0], days.at(-1)];
    if (first && last && (dayMs(last) - dayMs(first)) / 86_400_000 >= MAX_FILLED_DAYS) {
      return { keys: days, values: days.map((key) => counts.get(key) ?? 0), gapsLeftOut: true };
    }
    if (first && last) {
      for (let day = dayMs(first); day <= dayMs(last); day += 86_400_000) keys.push(dayKey(new Date(day)));
    }
  }
  return { keys, values: keys.map((key) => counts.get(key) ?? 0) };
}
