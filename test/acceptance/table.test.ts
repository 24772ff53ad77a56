import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import { BIN, spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';

// The default table output through the built binary: it streams `list --all` in a bounded heap, and on a terminal
// (a pseudo-terminal made by script(1)) it fits the width without cutting an id, a time or an IP.

const IPV6 = '2001:db8:85a3::8a2e:370:7334';
const LATE_ID = '9000000000000000001';
const MANY = 200_000;

/** Rows with IPv6, CJK and emoji; 8-9 digit ids, so that ID + TIME + SOURCE IP fit 60 columns. */
const ODD: SeedRow[] = [
  { id: 100000001, age: '1 hour', operator: 'alice@example.com', operation: 'UPDATE', resource_type: 'route', resource_name: 'orders', source_ip: '10.0.0.7', source: 'dashboard' },
  { id: 100000002, age: '2 hours', operator: '张三@例子.公司', operation: 'DELETE', resource_type: 'consumer_group', resource_name: '张三的消费者组-with-a-long-suffix-that-goes-on', source_ip: IPV6, source: 'admin-api' },
  { id: 100000003, age: '3 hours', operator: '🚀 deploy-bot 🚀', operation: 'CREATE', resource_type: 'service', resource_name: '🚀🚀🚀 launch-pad-🚀-service', source_ip: 'fe80::1', source: 'adc' },
  { id: 999999999, age: '4 hours', operator: 'bob', operation: 'LOGIN', resource_type: null, resource_name: null, source_ip: '2001:db8::1', source: 'dashboard' },
];
const WHOLE = ['100000001', '100000002', '100000003', '999999999', IPV6, '10.0.0.7', 'fe80::1', '2001:db8::1'];

let many: TestSchema;
let odd: TestSchema;
beforeAll(async () => {
  // One after the other: createDefaultTable sets search_path, and the embedded server is one shared backend.
  many = await createTestSchema('acc_table_many');
  odd = await createTestSchema('acc_table_odd');
  await createDefaultTable(many);
  await createDefaultTable(odd);
  await many.query(
    `insert into ${many.table()} (id, created_at, operator, operation, resource_type, resource_name, source_ip, source)
     select g, now() - g * interval '1 second', 'user' || (g % 7) || '@example.com', 'UPDATE', 'route', 'route-' || g,
            ('10.0.' || (g % 250) || '.' || (g % 200))::inet, 'dashboard'
     from generate_series(1, ${MANY}) as g`,
  );
  // The oldest entry, so `list --all` prints it last: far past the first page that sized the ID column.
  await many.query(
    `insert into ${many.table()} (id, created_at, operator, operation, resource_type, resource_name, source_ip, source)
     values ($1, now() - interval '10 years', 'late', 'DELETE', 'route', 'last', $2, 'adc')`,
    [LATE_ID, IPV6],
  );
  await insertRows(odd, ODD);
}, 120_000);
afterAll(async () => {
  await Promise.all([many?.drop(), odd?.drop()]);
});

interface Streamed {
  code: number;
  lines: number;
  head: string;
  tail: string[];
  stderr: string;
}

/** Runs the binary with a 64 MB V8 heap, counting stdout lines as they come instead of holding 20 MB of them. */
function listAllBounded(args: string[]): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=64', BIN, ...args], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let head = '';
    let rest = '';
    let tail: string[] = [];
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      if (lines === 0) head = parts[0] ?? '';
      lines += parts.length;
      tail = [...tail, ...parts].slice(-3);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), lines: lines + (rest ? 1 : 0), head, tail, stderr });
    });
  });
}

/** Runs the binary on a pseudo-terminal `columns` wide; returns what the terminal received, lines without `\r`. */
function onTerminal(columns: number, args: string[]): Promise<{ code: number; lines: string[] }> {
  const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
  const command = `stty cols ${columns}; ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { PATH: process.env.PATH, TERM: 'xterm', API7_AUDIT_PAGER: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, lines: out.split('\n').map((line) => line.replace(/\r$/, '')).filter((line) => line !== '') });
    });
  });
}

/** Display column where `needle` starts in `line` (ANSI codes and the width of 🚀 and CJK accounted for). */
const columnOf = (line: string, needle: string) => stringWidth(line.slice(0, line.indexOf(needle)));

describe('list --all with the table output', () => {
  it(`streams ${MANY.toLocaleString('en')} rows in a 64 MB heap and prints a late, longer id whole`, async () => {
    const result = await listAllBounded(['--db', databaseUrl(), '--table', many.table(), 'list', '--all']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.lines).toBe(MANY + 2); // header, every row, the late row
    expect(result.head).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION\s+RESOURCE\s+SOURCE IP\s+SOURCE$/);
    const last = result.tail.at(-1) ?? '';
    expect(last).toMatch(new RegExp(`^${LATE_ID}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  late\\s+DELETE\\s+route:last\\s+${IPV6}  adc$`));
    expect(result.tail[1]).toMatch(new RegExp(`^${MANY}\\s+`));
  }, 180_000);
});

describe('the table on a terminal', () => {
  const args = () => ['--db', databaseUrl(), '--table', odd.table(), 'list'];

  for (const columns of [60, 100, 200]) {
    it(`fits ${columns} columns, keeping ids, times and IPs whole and rows aligned`, async () => {
      const { code, lines } = await onTerminal(columns, args());
      expect(code, lines.join('\n')).toBe(0);
      expect(lines).toHaveLength(ODD.length + 1);
      const [head = '', ...rows] = lines;
      expect(head).toContain('\u001b[1mID'); // bold header: colours on a terminal
      expect(head).not.toContain('…');
      for (const line of lines) expect(stringWidth(line), line).toBeLessThanOrEqual(columns);
      expect(lines.join('\n')).not.toContain('\ufffd'); // no emoji cut in half
      const text = lines.join('\n');
      for (const value of WHOLE) expect(text).toContain(value);
      const timeAt = columnOf(head, 'TIME');
      const ipAt = columnOf(head, 'SOURCE IP');
      for (const row of rows) {
        expect(columnOf(row, row.match(/\d{4}-\d\d-\d\d \d\d/)?.[0] ?? '?'), row).toBe(timeAt);
        const ip = WHOLE.slice(4).find((value) => row.includes(value)) ?? '?';
        expect(columnOf(row, ip), row).toBe(ipAt);
      }
      if (columns === 60) expect(head).toMatch(/^\S*ID\S*\s+\S*TIME \(UTC\)\S*\s+\S*SOURCE IP\S*$/);
      if (columns === 200) expect(text).toContain('consumer_group:张三的消费者组-with-a-long-suffix-that-goes-on');
    });
  }

  it('prints every column and every value whole with --wide, even at 60 columns', async () => {
    const { code, lines } = await onTerminal(60, [...args(), '--wide']);
    expect(code, lines.join('\n')).toBe(0);
    const text = lines.join('\n');
    expect(text).not.toContain('…');
    for (const value of [...WHOLE, '张三@例子.公司', '🚀 deploy-bot 🚀', 'service:🚀🚀🚀 launch-pad-🚀-service', 'admin-api']) expect(text).toContain(value);
    const [head = '', ...rows] = lines;
    const ipAt = columnOf(head, 'SOURCE IP');
    for (const row of rows) expect(columnOf(row, WHOLE.slice(4).find((value) => row.includes(value)) ?? '?'), row).toBe(ipAt);
  });

  it('is plain text, whole, without colours when piped', async () => {
    const result = await spawnCli([...args()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('\u001b');
    expect(result.stdout).not.toContain('…');
    expect(result.stdout).toContain('🚀 deploy-bot 🚀');
  });
});
