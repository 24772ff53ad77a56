import { describe, expect, it } from 'vitest';
import { createColors } from '../../src/output/colors.js';
import { localeIsUtf8, renderBars, renderHeat, sparkline } from '../../src/output/stats-chart.js';

const plain = { colors: createColors(false), width: 80 };

describe('stats pictures', () => {
  it('bars: longest for the largest count, eighths of a block, the number beside every bar', () => {
    const lines = renderBars([{ label: 'alice', count: 80 }, { label: 'bob', count: 10 }, { label: 'carol', count: 1 }], { ...plain, unicode: true });
    expect(lines[0]).toBe(`alice  ${'█'.repeat(40)}  80`);
    expect(lines[1]).toBe(`bob    █████${' '.repeat(35)}  10`);
    // Half a column: four eighths.
    expect(lines[2]).toMatch(/^carol {2}▌ +1$/);
    expect(renderBars([{ label: 'alice', count: 80 }, { label: 'bob', count: 10 }], { ...plain, unicode: false })[1]).toBe(`bob    #####${' '.repeat(35)}  10`);
  });

  it('labels are made safe for the terminal and cut', () => {
    const [line] = renderBars([{ label: `evil\u001b]0;pwned\u0007${'x'.repeat(50)}`, count: 1 }], { ...plain, unicode: true });
    expect(line).not.toContain('\u001b');
    expect(line).toContain('…');
  });

  it('sparkline: one character per value, zero as a gap', () => {
    expect(sparkline([0, 1, 2, 4, 8], true)).toBe(' ▁▂▄█');
    expect(sparkline([0, 1, 2, 4, 8], false)).toBe(' _.~#');
    expect(sparkline([0, 0], true)).toBe('  ');
  });

  it('heat: 7 rows of 24 cells with totals, the busiest cell named; ASCII fallback', () => {
    const cells = Array.from({ length: 7 }, () => Array.from({ length: 24 }, () => 0));
    (cells[6] as number[])[3] = 9;
    (cells[0] as number[])[10] = 1;
    const lines = renderHeat(cells, { ...plain, unicode: false });
    expect(lines).toHaveLength(9);
    expect(lines[7]).toBe(`Sun  ...#${'.'.repeat(20)}  9`);
    expect(lines[1]).toBe(`Mon  ${'.'.repeat(10)}:${'.'.repeat(13)}  1`);
    expect(lines[8]).toContain('Sun 03:00-03:59 UTC, 9 changes');
  });

  it('the locale decides Unicode: UTF-8 or unset yes, C or Latin-1 no', () => {
    expect(localeIsUtf8({})).toBe(true);
    expect(localeIsUtf8({ LANG: 'en_US.UTF-8' })).toBe(true);
    expect(localeIsUtf8({ LANG: 'C' })).toBe(false);
    expect(localeIsUtf8({ LC_ALL: 'de_DE.ISO-8859-1', LANG: 'en_US.UTF-8' })).toBe(false);
  });
});
