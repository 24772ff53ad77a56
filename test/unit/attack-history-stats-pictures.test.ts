// Sizes the pictures of stats and the history timeline must survive: far more groups, values or entries than a
// terminal shows (Math.max(...) over them overflowed the call stack), and labels measured in terminal columns.
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { createColors } from '../../src/output/colors.js';
import { renderTimeline } from '../../src/output/history-text.js';
import { maxOf, renderBars, renderSparkline, sparkline } from '../../src/output/stats-chart.js';

const style = { colors: createColors(false), width: 100, unicode: true };
const MANY = 150_000;

describe('stats pictures at scale', () => {
  it('bars, a sparkline and its numbers for 150,000 values', () => {
    const bars = Array.from({ length: MANY }, (_, i) => ({ label: `ip-${i}`, count: i + 1 }));
    const lines = renderBars(bars, style);
    expect(lines).toHaveLength(MANY);
    expect(lines.at(-1)).toMatch(/^ip-149999 +█{40} +150,000$/);
    const values = Array.from({ length: MANY }, (_, i) => (i === 7 ? 9 : 1));
    expect(sparkline(values, true)).toHaveLength(MANY);
    const keys = values.map((_, i) => `k${i}`);
    expect(renderSparkline('', keys, values, { ...style, width: Number.POSITIVE_INFINITY })).toMatch(/ {2}total 150,008, peak 9 at k7$/);
    expect(maxOf([], 1)).toBe(1);
    expect(maxOf([3, 7, 2])).toBe(7);
  });

  it('a long series on a terminal is drawn in marks of several keys, each line the same scale', () => {
    const keys = Array.from({ length: 365 }, (_, i) => new Date(Date.UTC(2026, 0, 1 + i)).toISOString().slice(0, 10));
    const line = renderSparkline('alice', keys, keys.map(() => 1), { ...style, width: 80 }, 10);
    expect(line).toMatch(/^alice {7}\S+ {2}total 365, peak 1 at 2026-01-01, \d+ days a mark$/);
    expect(stringWidth(line)).toBeLessThanOrEqual(80 + 4);
  });

  it('labels are cut and padded in terminal columns, and a label of zero-width characters stays bounded', () => {
    const lines = renderBars([{ label: '张'.repeat(40), count: 2 }, { label: 'bob', count: 1 }, { label: `a${'\u0301'.repeat(200_000)}`, count: 1 }], style);
    const starts = lines.map((line) => stringWidth(line.slice(0, line.indexOf('█'))));
    expect(new Set(starts).size).toBe(1);
    expect(lines[0]?.startsWith(`${'张'.repeat(15)}…`)).toBe(true);
    expect((lines[2] ?? '').length).toBeLessThan(1000);
    // ASCII pictures (a locale that is not UTF-8) cut with an ASCII mark too.
    const [ascii] = renderBars([{ label: 'x'.repeat(40), count: 1 }], { ...style, unicode: false });
    expect(ascii).toMatch(/^x{31}~ {2}#+ {2}1$/);
  });
});

describe('the history timeline at scale', () => {
  it('an operator named "-" or "" is quoted: only a missing one reads "-"', () => {
    const entry = (operator: string | null): AuditEntry =>
      ({ id: '1', timestamp: '2026-01-01T00:00:00.000000Z', operator, operation: 'UPDATE', resource_type: 'route', resource_id: 'r', resource_name: null, source_ip: null, source: null, before: null, after: null }) as AuditEntry;
    const rows = renderTimeline([null, '-', ''].map((operator) => ({ entry: entry(operator), changes: [] })), createColors(false)).split('\n').filter((line) => line.startsWith('2026-'));
    expect(rows.map((line) => line.split(/ {2,}/)[2])).toEqual(['-', '"-"', '""']);
  });

  it('lays out 150,000 entries', () => {
    const entry = (i: number): AuditEntry =>
      ({ id: String(i), timestamp: '2026-01-01T00:00:00.000000Z', operator: i === 5 ? '张伟' : 'bob', operation: 'UPDATE', resource_type: 'route', resource_id: 'r', resource_name: null, source_ip: null, source: null, before: { a: i }, after: { a: i + 1 } }) as AuditEntry;
    const text = renderTimeline(Array.from({ length: MANY }, (_, i) => ({ entry: entry(i), changes: [{ path: '$.a', before: i, after: i + 1 }] })), createColors(false));
    const rows = text.split('\n').filter((line) => line.startsWith('2026-'));
    expect(rows).toHaveLength(MANY);
    const column = (line: string) => stringWidth(line.slice(0, line.indexOf('UPDATE')));
    expect(column(rows[5] ?? '')).toBe(column(rows[0] ?? ''));
  });
});
