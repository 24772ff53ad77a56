import { describe, it, expect } from 'vitest';
import { createColors } from '../../src/output/colors.js';
import { renderDiff } from '../../src/output/diff.js';

const plain = createColors(false);
const changedLines = (diff: string) => diff.split('\n').filter((line) => /^[-+] /.test(line));

describe('renderDiff on large entries', () => {
  it('cuts the diff at maxChangedLines and says how many changed lines there are', () => {
    const before = { items: Array.from({ length: 1000 }, (_, index) => index) };
    const after = { items: before.items.map((value) => (value % 10 === 0 ? -value - 1 : value)) };
    const diff = renderDiff(before, after, { colors: plain, maxChangedLines: 40 });
    expect(changedLines(diff)).toHaveLength(40);
    expect(diff.split('\n').at(-1)).toBe('(diff cut at 40 of 200 changed lines; use --output json for every change)');
    expect(renderDiff(before, after, { colors: plain })).not.toContain('diff cut');
  });

  it('pairs lines by position past 500 edits, and says so', () => {
    const before = { items: Array.from({ length: 3000 }, (_, index) => `v${index}`) };
    const after = { items: before.items.map((value, index) => (index % 5 === 0 ? `${value}!` : value)) };
    const diff = renderDiff(before, after, { colors: plain });
    expect(changedLines(diff)).toHaveLength(1200);
    expect(changedLines(diff).slice(0, 2)).toEqual(['-    "v0",', '+    "v0!",']);
    expect(diff.split('\n').at(-1)).toBe('(too many changes for a minimal diff: lines are paired by position; use --output json for every change)');
  });

  it('prints nesting 5,000 levels deep with indentation capped, the change at its place', () => {
    let before: unknown = 1;
    let after: unknown = 2;
    for (let level = 0; level < 5000; level++) {
      before = { a: before };
      after = { a: after };
    }
    const diff = renderDiff(before, after, { colors: plain, contextLines: 0 });
    expect(changedLines(diff)).toEqual([`-${' '.repeat(200)}"a": 1`, `+${' '.repeat(200)}"a": 2`]);
  });
});
