import { describe, it, expect } from 'vitest';
import { createColors } from '../../src/output/colors.js';
import { NO_ENTRIES_MESSAGE, fitWidths, formatTime, renderTable } from '../../src/output/table.js';
import { makeEntry, visibleWidth } from './output-fixtures.js';

const plain = createColors(false);
const colored = createColors(true);

const entries = [
  makeEntry(),
  makeEntry({
    id: '1234567890123',
    operator: 'a-very-long-operator-name@example-identity-provider.internal',
    operation: 'DELETE',
    resource_type: 'consumer_group',
    resource_name: '张三的消费者组-with-a-long-suffix-that-goes-on-and-on',
    source_ip: '2001:db8:85a3::8a2e:370:7334',
    source: 'admin-api',
  }),
  makeEntry({ operator: null, operation: 'LOGIN', resource_type: null, resource_id: null, resource_name: null }),
];

describe('renderTable', () => {
  it('never exceeds the given width, with or without colours', () => {
    for (const colors of [plain, colored]) {
      for (let width = 19; width <= 220; width += 7) {
        const lines = renderTable(entries, { colors, width }).split('\n');
        expect(lines).toHaveLength(entries.length + 1);
        for (const line of lines) expect(visibleWidth(line), `width ${width}: ${line}`).toBeLessThanOrEqual(width);
      }
    }
  });

  it('cuts long values with an ellipsis when narrow, prints them whole without a width', () => {
    const operator = entries[1]!.operator!;
    expect(renderTable(entries, { colors: plain, width: 80 })).toContain('…');
    expect(renderTable(entries, { colors: plain, width: 80 })).not.toContain(operator);
    const full = renderTable(entries, { colors: plain });
    expect(full).toContain(operator);
    expect(full).toContain('consumer_group:张三的消费者组-with-a-long-suffix-that-goes-on-and-on');
    expect(full).not.toContain('…');
  });

  it('shrinks OPERATOR and RESOURCE before the other columns', () => {
    const narrow = renderTable(entries, { colors: plain, width: 120 });
    expect(narrow).toContain('1234567890123');
    expect(narrow).toContain('2001:db8:85a3::8a2e:370:7334');
    expect(narrow).toContain('2024-05-01 12:34:56');
    expect(fitWidths([10, 19, 60, 9, 50, 20, 9], 120)).toEqual([10, 19, 20, 9, 21, 20, 9]);
    expect(fitWidths([10, 19, 60, 9, 50, 20, 9], 80)).toEqual([10, 19, 7, 8, 8, 8, 8]);
    expect(fitWidths([10, 19, 8, 6, 8, 7, 5], 200)).toEqual([10, 19, 8, 6, 8, 7, 5]);
  });

  it('has no ANSI codes when colours are off, and colours the operation when on', () => {
    expect(renderTable(entries, { colors: plain, width: 100 })).not.toContain('\u001b');
    expect(renderTable(entries, { colors: plain })).not.toContain('\u001b');
    expect(renderTable(entries, { colors: colored })).toContain(colored.red('DELETE'));
  });

  it('shows UTC time to the second, type:name or type:id, and - for missing values', () => {
    const [head, first, , third] = renderTable(entries, { colors: plain }).split('\n');
    expect(head).toMatch(/^ID\s+TIME\s+OPERATOR\s+OPERATION\s+RESOURCE\s+SOURCE IP\s+SOURCE$/);
    expect(first).toMatch(/^42\s+2024-05-01 12:34:56\s+alice\s+UPDATE\s+route:orders\s+10\.0\.0\.7\s+dashboard$/);
    expect(third).toMatch(/^42\s+\S+ \S+\s+-\s+LOGIN\s+-\s+/);
    const byId = renderTable([makeEntry({ resource_name: null })], { colors: plain });
    expect(byId).toContain('route:r1');
    expect(formatTime('2024-05-01T23:59:59.999999+02:00')).toBe('2024-05-01 21:59:59');
    expect(formatTime('not a time')).toBe('not a time');
  });

  it('escapes control characters, so a value cannot forge rows or drive the terminal', () => {
    const hostile = makeEntry({ resource_name: 'x\n42  evil\u001b[2J', operator: 'bob\u009b31m' });
    const text = renderTable([hostile], { colors: plain });
    expect(text.split('\n')).toHaveLength(2);
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u009b');
    expect(text).toContain('x\\n42  evil\\u001b[2J');
  });

  it('returns a message for an empty list', () => {
    expect(renderTable([], { colors: plain, width: 80 })).toBe(NO_ENTRIES_MESSAGE);
  });
});
