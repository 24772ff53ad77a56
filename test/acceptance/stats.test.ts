import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { spawnInPty } from '../support/pty.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';

/** A --demo start takes 4 s of CPU, minutes on a loaded 2-core machine: longer than spawnCli's default 60 s. */
const DEMO = { timeoutMs: 200_000 };
let schema: TestSchema;

beforeAll(async () => {
  schema = await createTestSchema('stats');
  await createDefaultTable(schema);
  const rows: SeedRow[] = [];
  // steady: 2 changes a day from one address for 20 days, then 12 today from a new one.
  for (let day = 1; day <= 20; day++) {
    for (let n = 0; n < 2; n++) rows.push({ age: `${day} days ${n} hours`, operator: 'steady', operation: n ? 'UPDATE' : 'update', resource_type: 'route', source_ip: '10.1.2.3', source: 'api' });
  }
  // All 12 on today's UTC date: a minute apart, closer together just after midnight (at 00:07, 9 of them were today).
  const now = Date.now();
  const step = Math.min(60_000, Math.floor((now % 86_400_000) / 13));
  for (let n = 0; n < 12; n++) rows.push({ at: new Date(now - (n + 1) * step).toISOString(), operator: 'steady', operation: 'DELETE', resource_type: 'ssl', source_ip: '203.0.113.9', source: 'dashboard' });
  // newbie: never seen before today. oldtimer: seen 90 days ago, and today, from the same address.
  rows.push({ age: '3 hours', operator: 'newbie', operation: 'CREATE', resource_type: 'consumer', source_ip: '2001:db8:1:2::5', source: 'dashboard' });
  rows.push({ age: '90 days', operator: 'oldtimer', operation: 'LOGIN', resource_type: 'user', source_ip: '10.1.2.77' });
  rows.push({ age: '2 hours', operator: 'oldtimer', operation: 'LOGIN', resource_type: 'user', source_ip: '10.1.2.77' });
  rows.push({ age: '2 hours', operator: null, operation: 'SYNC', resource_type: null, source_ip: null });
  await insertRows(schema, rows);
});
afterAll(async () => {
  await schema?.drop();
});

const stats = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'stats', ...args]);
const truth = async (select: string, where = `created_at >= now() - interval '30 days'`) =>
  (await schema.query<{ k1: string | number | null; k2?: string | number | null; n: string }>(`select ${select}, count(*) as n from ${schema.table()} where ${where} group by 1${select.includes('k2') ? ', 2' : ''}`)).rows;

type Group = Record<string, string | number | null>;
const asSet = (groups: Group[]) => new Set(groups.map((group) => JSON.stringify(group)));

describe('stats (built binary, real server)', () => {
  it('counts each group as a GROUP BY in SQL does: operator, operation x resource, weekday x hour, networks', async () => {
    const byOperator = await stats('--since', '30d', '--by', 'operator', '--output', 'json');
    expect(byOperator.code).toBe(0);
    const view = (JSON.parse(byOperator.stdout) as { views: { groups: Group[]; total: number }[] }).views[0];
    expect(asSet(view?.groups ?? [])).toEqual(asSet((await truth('operator as k1')).map((row) => ({ operator: row.k1, count: Number(row.n) }))));

    const pair = JSON.parse((await stats('--since', '30d', '--by', 'operation,resource', '--json')).stdout) as { views: { groups: Group[] }[] };
    expect(asSet(pair.views[0]?.groups ?? [])).toEqual(
      asSet((await truth('upper(operation) as k1, resource_type as k2')).map((row) => ({ operation: row.k1, resource: row.k2 ?? null, count: Number(row.n) }))),
    );

    const heat = JSON.parse((await stats('--since', '30d', '--by', 'weekday,hour', '--json')).stdout) as { views: { groups: Group[] }[] };
    const utc = `created_at at time zone 'UTC'`;
    expect(asSet(heat.views[0]?.groups ?? [])).toEqual(
      asSet((await truth(`extract(isodow from ${utc})::int as k1, extract(hour from ${utc})::int as k2`)).map((row) => ({ weekday: row.k1, hour: row.k2 ?? null, count: Number(row.n) }))),
    );

    const nets = await stats('--since', '120d', '--by', 'net', '--output', 'csv');
    expect(nets.stdout.split('\r\n')).toEqual(expect.arrayContaining(['net,count', '10.1.2.0/24,42', '203.0.113.0/24,12', '2001:db8:1:2::/64,1', ',1']));
  });

  it('marks the unusual: a first change ever, a day over 3x the median, a source IP new for the operator', async () => {
    const result = await stats('--since', '1d', '--output', 'json');
    expect(result.code).toBe(0);
    const { unusual } = JSON.parse(result.stdout) as { unusual: { first_changes: Group[]; busy_days: Group[]; new_source_ips: Group[] } };
    expect(unusual.first_changes.map((change) => change.operator)).toEqual(['newbie']);
    expect(unusual.busy_days).toEqual([expect.objectContaining({ operator: 'steady', count: 12, median: 2 })]);
    expect(unusual.new_source_ips.map((pair) => `${pair.operator}@${pair.ip}`).sort()).toEqual(['newbie@2001:db8:1:2::5', 'steady@203.0.113.9']);
    const text = await stats('--since', '1d');
    expect(text.stdout).toContain('! first change ever: newbie');
    expect(text.stdout).toMatch(/! busy day: steady made 12 changes on \d{4}-\d\d-\d\d \(median 2 per active day\)/);
    expect(text.stdout).toContain('! new source IP: steady from 203.0.113.9');
  });

  it('draws bars with the numbers beside them; ASCII when the locale is not UTF-8; colour only on a terminal', async () => {
    const piped = await stats('--since', '30d', '--by', 'operator');
    expect(piped.stdout).toMatch(/steady\s+█+[▏▎▍▌▋▊▉]?\s+52/);
    expect(piped.stdout).not.toContain('\u001b[');
    const ascii = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--since', '30d', '--by', 'operator'], { env: { LANG: 'C' } });
    expect(ascii.stdout).toMatch(/steady\s+#{40}\s+52/);
    expect(ascii.stdout).not.toMatch(/[█▁-▇░▒▓]/);
    const tty = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--since', '30d'], { env: { LANG: 'C.UTF-8' }, cols: 100 });
    expect(tty.output).toContain('\u001b[');
    expect(stripVTControlCharacters(tty.output)).toMatch(/Mon {2}[·░▒▓█]{24} {2}\d+/);
    const noColor = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--since', '30d'], { env: { LANG: 'C.UTF-8', NO_COLOR: '1' }, cols: 100 });
    expect(noColor.output).not.toContain('\u001b[3');
  });

  it('refuses bad --by and --unusual-factor: exit 2, one line', async () => {
    for (const args of [['--by', 'colour'], ['--by', 'operator,operator'], ['--by', 'day,hour,weekday'], ['--unusual-factor', '1'], ['--top', '0']]) {
      const result = await stats(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('stats on the demo', () => {
  it('counts what list lists, per operator', async () => {
    const [counted, listed] = await Promise.all([
      spawnCli(['--demo', 'stats', '--since', '200d', '--by', 'operator', '--output', 'json'], DEMO),
      spawnCli(['--demo', 'list', '--since', '200d', '--all', '--output', 'ndjson'], DEMO),
    ]);
    expect(counted.code).toBe(0);
    const perOperator = new Map<string, number>();
    for (const line of listed.stdout.split('\n').filter(Boolean)) {
      const operator = (JSON.parse(line) as { operator: string }).operator;
      perOperator.set(operator, (perOperator.get(operator) ?? 0) + 1);
    }
    const groups = (JSON.parse(counted.stdout) as { views: { groups: { operator: string; count: number }[] }[] }).views[0]?.groups ?? [];
    expect(new Map(groups.map((group) => [group.operator, group.count]))).toEqual(perOperator);
  }, 240_000);
});
