import { describe, it, expect, beforeAll } from 'vitest';
import stringWidth from 'string-width';
import { createColors } from '../../src/output/colors.js';
import { FIRST_PAGE_ROWS, NO_ENTRIES_MESSAGE, cutToWidth, fitLayout, loadTableLibraries, renderTable } from '../../src/output/table.js';
import { formatTime } from '../../src/output/time-zone.js';
import { makeEntry } from './output-fixtures.js';

const plain = createColors(false);
const colored = createColors(true);
let libraries: Awaited<ReturnType<typeof loadTableLibraries>>;
beforeAll(async () => {
  libraries = await loadTableLibraries();
});
const render = (entries: Parameters<typeof renderTable>[0], options: Parameters<typeof renderTable>[1]) => renderTable(entries, options, libraries);

const IPV6 = '2001:db8:85a3::8a2e:370:7334';
const entries = [
  makeEntry(),
  makeEntry({
    id: '123456789',
    operator: 'a-very-long-operator-name@example-identity-provider.internal',
    operation: 'DELETE',
    resource_type: 'consumer_group',
    resource_name: '张三的消费者组-with-a-long-suffix-that-goes-on-and-on',
    source_ip: IPV6,
    source: 'admin-api',
  }),
  makeEntry({ id: '7', operator: '🚀 deploy-bot 🚀', resource_name: '🚀🚀🚀 launch', source_ip: '10.0.0.1' }),
  makeEntry({ operator: null, operation: 'LOGIN', resource_type: null, resource_id: null, resource_name: null }),
];

/** Display column where `needle` starts in `line` (string-width counts 🚀 and CJK as 2). */
const columnOf = (line: string, needle: string) => stringWidth(line.slice(0, line.indexOf(needle)));

describe('renderTable', () => {
  it('fits every width from 60 to 220 columns, with and without colours, never cutting an id, time, IP or header', () => {
    for (const colors of [plain, colored]) {
      for (let width = 60; width <= 220; width += 5) {
        const text = render(entries, { colors, width });
        const lines = text.split('\n');
        expect(lines).toHaveLength(entries.length + 1);
        for (const line of lines) expect(stringWidth(line), `width ${width}: ${line}`).toBeLessThanOrEqual(width);
        for (const whole of ['123456789', IPV6, '2024-05-01 12:34:56', '10.0.0.7']) expect(text).toContain(whole);
        expect(lines[0]).not.toContain('…');
      }
    }
  });

  it('drops SOURCE, then OPERATION on narrow terminals instead of cutting everything', () => {
    const head = (width: number) => render(entries, { colors: plain, width }).split('\n')[0];
    expect(head(220)).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION\s+RESOURCE\s+SOURCE IP\s+SOURCE$/);
    expect(head(100)).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION\s+RESOURCE\s+SOURCE IP$/);
    expect(head(88)).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+RESOURCE\s+SOURCE IP$/);
    expect(head(60)).toMatch(/^ID\s+TIME \(UTC\)\s+SOURCE IP$/);
  });

  it('lays out columns in display width, so rows with emoji and CJK stay aligned', () => {
    const lines = render(entries, { colors: plain }).split('\n');
    const timeColumn = columnOf(lines[0] ?? '', 'TIME');
    const ipColumn = columnOf(lines[0] ?? '', 'SOURCE IP');
    for (const line of lines.slice(1)) {
      expect(columnOf(line, '2024-05-01'), line).toBe(timeColumn);
      expect(columnOf(line, line.includes(IPV6) ? IPV6 : '10.0.0.'), line).toBe(ipColumn);
    }
  });

  it('prints everything whole without a width, and with --wide on any terminal', () => {
    for (const text of [render(entries, { colors: plain }), render(entries, { colors: plain, width: 60, wide: true })]) {
      expect(text).toContain(entries[1]?.operator);
      expect(text).toContain('consumer_group:张三的消费者组-with-a-long-suffix-that-goes-on-and-on');
      expect(text).toContain('admin-api');
      expect(text).not.toContain('…');
    }
  });

  it('prints later rows exactly as cli-table3 lays out the first page, and never cuts a later, longer id', () => {
    const page = Array.from({ length: FIRST_PAGE_ROWS }, (_, index) => entries[index % entries.length] ?? makeEntry());
    const later = makeEntry({ id: '98765432109876543210', resource_name: 'x'.repeat(300), source_ip: 'fe80::1234:5678:9abc:def0' });
    for (const options of [{ colors: colored, width: 120 }, { colors: plain }]) {
      const lines = render([...page, ...page, later], options).split('\n');
      // Rows past the first page come from the fast path; identical to cli-table3's own lines for the same rows.
      expect(lines.slice(FIRST_PAGE_ROWS + 1, 2 * FIRST_PAGE_ROWS + 1)).toEqual(lines.slice(1, FIRST_PAGE_ROWS + 1));
      const last = lines.at(-1) ?? '';
      expect(last).toContain('98765432109876543210');
      expect(last).toContain('fe80::1234:5678:9abc:def0');
      if (options.width) expect(last).toContain('…');
      if (options.width) expect(stringWidth(last)).toBeLessThanOrEqual(options.width);
      else expect(last).toContain('x'.repeat(300));
    }
  });

  it('has no ANSI codes when colours are off, and colours the operation when on', () => {
    expect(render(entries, { colors: plain, width: 200 })).not.toContain('\u001b');
    expect(render(entries, { colors: colored, width: 200 })).toContain(colored.red('DELETE'));
  });

  it('shows UTC time to the second, type:name or type:id, and - for missing values', () => {
    const [head, first, , , fourth] = render(entries, { colors: plain }).split('\n');
    expect(head).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION\s+RESOURCE\s+SOURCE IP\s+SOURCE$/);
    expect(first).toMatch(/^42\s+2024-05-01 12:34:56\s+alice\s+UPDATE\s+route:orders\s+10\.0\.0\.7\s+dashboard$/);
    expect(fourth).toMatch(/^42\s+\S+ \S+\s+-\s+LOGIN\s+-\s+/);
    expect(render([makeEntry({ resource_name: null })], { colors: plain })).toContain('route:r1');
    expect(formatTime('2024-05-01T23:59:59.999999+02:00')).toBe('2024-05-01 21:59:59');
    expect(formatTime('not a time')).toBe('not a time');
  });

  it('escapes control characters, so a value cannot forge rows or drive the terminal', () => {
    const hostile = makeEntry({ resource_name: 'x\n42  evil\u001b[2J', operator: 'bob\u009b31m' });
    const text = render([hostile], { colors: plain });
    expect(text.split('\n')).toHaveLength(2);
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u009b');
    expect(text).toContain('x\\n42  evil\\u001b[2J');
  });

  it('returns a message for an empty list', () => {
    expect(render([], { colors: plain, width: 80 })).toBe(NO_ENTRIES_MESSAGE);
  });
});

describe('fitLayout', () => {
  it('cuts OPERATOR and RESOURCE evenly first, then drops SOURCE and OPERATION, and keeps ID, TIME, IP whole', () => {
    expect(fitLayout([10, 19, 60, 9, 50, 20, 9], 200)).toEqual({ columns: [0, 1, 2, 3, 4, 5, 6], widths: [10, 19, 60, 9, 50, 20, 9] });
    expect(fitLayout([10, 19, 60, 9, 50, 20, 9], 120)).toEqual({ columns: [0, 1, 2, 3, 4, 5, 6], widths: [10, 19, 21, 9, 20, 20, 9] });
    expect(fitLayout([10, 19, 60, 9, 50, 28, 9], 100)).toEqual({ columns: [0, 1, 2, 3, 4, 5], widths: [10, 19, 12, 9, 12, 28] });
    expect(fitLayout([10, 19, 60, 9, 50, 28, 9], 92)).toEqual({ columns: [0, 1, 2, 3, 4, 5], widths: [10, 19, 8, 9, 8, 28] });
    expect(fitLayout([10, 19, 60, 9, 50, 28, 9], 90)).toEqual({ columns: [0, 1, 2, 4, 5], widths: [10, 19, 13, 12, 28] });
    expect(fitLayout([10, 19, 60, 9, 50, 28, 9], 81)).toEqual({ columns: [0, 1, 2, 4, 5], widths: [10, 19, 8, 8, 28] });
    expect(fitLayout([10, 19, 60, 9, 50, 28, 9], 80)).toEqual({ columns: [0, 1, 2, 5], widths: [10, 19, 17, 28] });
    expect(fitLayout([10, 19, 60, 9, 50, 28, 9], 60)).toEqual({ columns: [0, 1, 5], widths: [10, 19, 28] });
    // Wider than the terminal on their own: they overflow rather than being cut.
    expect(fitLayout([30, 19, 60, 9, 50, 39, 9], 60)).toEqual({ columns: [0, 1, 5], widths: [30, 19, 39] });
  });
});

describe('cutToWidth', () => {
  it('cuts between graphemes, never inside an emoji or a CJK character', () => {
    expect(cutToWidth('service:🚀🚀🚀 launch', 11, libraries.measure)).toBe('service:🚀…');
    expect(cutToWidth('service:🚀🚀🚀 launch', 12, libraries.measure)).toBe('service:🚀…');
    expect(cutToWidth('张三的消费者组', 6, libraries.measure)).toBe('张三…');
    expect(cutToWidth('👩‍👩‍👧 family', 3, libraries.measure)).toBe('👩‍👩‍👧…');
  });
});

describe('time zone and fields', () => {
  it('--local and API7_AUDIT_TZ: the TIME header names the zone its times are in', () => {
    const text = renderTable([makeEntry()], { colors: plain, timeZone: 'Asia/Tokyo' }, libraries);
    expect(text.split('\n')[0]).toMatch(/^ID\s+TIME \(Asia\/Tokyo\)\s+OPERATOR/);
    expect(text).toContain('2024-05-01 21:34:56');
    expect(formatTime('2024-01-01T00:30:00Z', 'America/New_York')).toBe('2023-12-31 19:30:00');
  });
  it('--fields picks and orders the columns', () => {
    const text = renderTable([makeEntry()], { colors: plain, fields: ['operator', 'resource_id', 'id'] }, libraries);
    expect(text.split('\n')).toEqual([expect.stringMatching(/^OPERATOR\s+RESOURCE ID\s+ID$/), expect.stringMatching(/^alice\s+r1\s+42$/)]);
  });
});
