import { describe, expect, it } from 'vitest';
import Table from 'cli-table3';
import { createColors } from '../../src/output/colors.js';
import { createLayout, FIRST_PAGE_ROWS, loadTableLibraries, type FirstPageCells } from '../../src/output/table.js';
import type { AuditEntry } from '../../src/domain.js';
import { makeEntry, pick } from './output-fixtures.js';
import { seededRandom } from '../support/random.js';

/** The first page as table.ts laid it out with cli-table3 until it wrote the lines itself. */
function cliTable3Page({ head, rows, widths }: FirstPageCells): string {
  const borderless = Object.fromEntries(
    ['top', 'top-mid', 'top-left', 'top-right', 'bottom', 'bottom-mid', 'bottom-left', 'bottom-right', 'left', 'left-mid', 'mid', 'mid-mid', 'right', 'right-mid', 'middle'].map((name) => [name, '']),
  );
  const table = new Table({ chars: borderless, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2 }, colWidths: widths.map((width) => width + 2), head });
  table.push(...rows);
  return table.toString().split('\n').map((line) => line.trimEnd()).join('\n');
}

describe('the table\'s first page', () => {
  it('is laid out exactly as cli-table3 lays out the same cells: colours, emoji, CJK, cut cells, any width', async () => {
    const libraries = await loadTableLibraries();
    const random = seededRandom(23);
    const words = ['alice', 'a-very-long-operator-name@example-identity-provider.internal', '张三的消费者组', '🚀 deploy-bot 🚀', 'café', 'x'.repeat(40), 'e\u0301', '👩‍👩‍👧', '', 'LOGIN', 'DELETE', 'create', 'Update'];
    const maybe = () => (random() < 0.15 ? null : pick(random, words) + pick(random, ['', '-1', ' 东京']));
    for (let round = 0; round < 60; round += 1) {
      const entries: AuditEntry[] = Array.from({ length: 1 + Math.floor(random() * 12) }, (_, index) =>
        makeEntry({ id: String(index * 7919 + round), operator: maybe(), operation: maybe(), resource_type: maybe(), resource_name: maybe(), resource_id: maybe(), source: maybe(), source_ip: pick(random, ['10.0.0.7', '2001:db8:85a3::8a2e:370:7334', null]) }),
      );
      const options = {
        colors: createColors(random() < 0.5),
        width: random() < 0.7 ? 50 + Math.floor(random() * 180) : undefined,
        wide: random() < 0.1,
        fields: random() < 0.2 ? (['operator', 'resource_name', 'id', 'operation'] as const) : undefined,
      };
      const { formatter, cells } = createLayout(entries, options, libraries);
      expect(formatter.firstPage, JSON.stringify({ round, options: { ...options, colors: undefined } })).toBe(cliTable3Page(cells));
    }
  });

  it('keeps its rows the same when they come after the first page', async () => {
    const libraries = await loadTableLibraries();
    const entries = Array.from({ length: FIRST_PAGE_ROWS }, (_, index) => makeEntry({ id: String(index), operator: index % 3 === 0 ? '🚀 bot' : 'alice', operation: index % 2 ? 'DELETE' : 'CREATE' }));
    const { formatter } = createLayout(entries, { colors: createColors(true), width: 100 }, libraries);
    expect(entries.map((entry) => formatter.format(entry))).toEqual(formatter.firstPage.split('\n').slice(1));
  });
});
