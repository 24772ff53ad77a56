// Attack on `stats` (issue 17) through the built binary and the real server: every number against the same GROUP BY
// run here, with a server TimeZone and a client TZ that are not UTC; the unusual rules with filters; the pictures
// with hostile and wide names, on a 40-column terminal.
import stringWidth from 'string-width';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { spawnInPty } from '../support/pty.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';

let schema: TestSchema;
const SINCE = '2026-10-01T00:00:00Z';
const UNTIL = '2026-11-01T00:00:00Z';
const FORMULA = `=cmd|' /C calc'!A0`;

/** The server's sessions in Chatham time (+13:45 in October), the client in Los Angeles: neither is UTC. */
function chathamUrl(): string {
  const url = new URL(databaseUrl());
  url.searchParams.set('options', '-c TimeZone=Pacific/Chatham');
  return url.toString();
}

const row = (at: string, operator: string | null, operation: string | null, resource_type: string | null, source_ip: string | null, source: string | null = 'api'): SeedRow => ({
  at, operator, operation, resource_type, source_ip, source, resource_id: 'x',
});

beforeAll(async () => {
  schema = await createTestSchema('ahs_stats');
  await createDefaultTable(schema);
  await insertRows(schema, [
    // At the bounds: since is inclusive, until exclusive, to the microsecond.
    row('2026-09-30T23:59:59.999999Z', 'alice', 'UPDATE', 'route', '10.1.2.3'),
    row(SINCE, 'alice', 'UPDATE', 'route', '10.1.2.3'),
    row(UNTIL, 'alice', 'UPDATE', 'route', '10.1.2.3'),
    // Either side of midnight UTC: one day in Chatham, two in UTC.
    row('2026-10-05T23:30:00Z', 'alice', 'update', 'route', '10.1.2.200', 'dashboard'),
    row('2026-10-06T00:30:00Z', 'alice', 'CREATE', 'service', '::ffff:10.1.2.9', 'dashboard'),
    row('2026-10-07T12:00:00Z', null, 'SYNC', null, null, null),
    row('2026-10-08T03:00:00Z', '', 'UPDATE', 'route', '2001:db8:1:2::5'),
    row('2026-10-09T05:00:00Z', '张伟', 'UPDATE', 'ssl', '2001:db8:1:2:ffff::1'),
    row('2026-10-10T06:00:00Z', FORMULA, 'UPDATE', 'route', '::1'),
    row('2026-10-11T07:00:00Z', '(none)', 'UPDATE', 'route', null),
    row('2026-10-11T08:00:00Z', 'null', 'UPDATE', 'route', '10.9.9.9'),
    // fresh: first entry ever an UPDATE in the window, then a DELETE.
    row('2026-10-05T10:00:00Z', 'fresh', 'UPDATE', 'route', '192.0.2.1'),
    row('2026-10-06T10:00:00Z', 'fresh', 'DELETE', 'route', '192.0.2.1'),
    // veteran: seen in August from 10.0.0.1; in the window from .1, .2 (DELETE only) and .3 (UPDATE, then DELETE).
    row('2026-08-01T00:00:00Z', 'veteran', 'UPDATE', 'route', '10.0.0.1'),
    row('2026-10-02T00:00:00Z', 'veteran', 'UPDATE', 'route', '10.0.0.3'),
    row('2026-10-03T00:00:00Z', 'veteran', 'DELETE', 'route', '10.0.0.1'),
    row('2026-10-04T00:00:00Z', 'veteran', 'DELETE', 'route', '10.0.0.3'),
    row('2026-10-05T00:00:00Z', 'veteran', 'DELETE', 'route', '10.0.0.2'),
    // bursty, in June 2025: one change on each of three days, then 10 at 02:00 and 1 at 20:00 on the 20th.
    ...['2025-06-01T20:00:00Z', '2025-06-05T20:00:00Z', '2025-06-10T20:00:00Z', '2025-06-20T20:00:00Z'].map((at) => row(at, 'bursty', 'UPDATE', 'route', '10.7.7.7')),
    ...Array.from({ length: 10 }, (_, i) => row(`2025-06-20T02:0${i}:00Z`, 'bursty', 'UPDATE', 'route', '10.7.7.7')),
    // A clock gone wrong: dated 9999, so in every window without --until.
    row('9999-01-01T00:00:00Z', 'clock', 'UPDATE', 'route', '10.0.0.1'),
  ]);
});
afterAll(async () => {
  await schema?.drop();
});

const stats = (...args: string[]) =>
  spawnCli(['--db', chathamUrl(), '--table', schema.table(), 'stats', '--since', SINCE, '--until', UNTIL, ...args], { env: { TZ: 'America/Los_Angeles' } });
type Group = Record<string, string | number | null>;
interface Stats {
  views: { by: string[]; total: number; groups: Group[] }[];
  unusual?: { first_changes: Group[]; busy_days: Group[]; new_source_ips: Group[] };
}
const json = async (...args: string[]): Promise<Stats> => {
  const result = await stats(...args, '--output', 'json');
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Stats;
};
const sorted = (groups: Group[]) => groups.map((group) => JSON.stringify(group)).sort();

const UTC = `(created_at at time zone 'UTC')`;
const EXPRESSIONS: Record<string, string> = {
  operator: 'operator',
  operation: 'upper(operation)',
  resource: 'resource_type',
  source: 'source',
  ip: 'host(source_ip)',
  day: `to_char(${UTC}, 'YYYY-MM-DD')`,
  hour: `extract(hour from ${UTC})::int`,
  weekday: `extract(isodow from ${UTC})::int`,
};

/** The same GROUP BY, written here, in a UTC session of its own. */
async function truth(by: string[], where = 'true'): Promise<Group[]> {
  const keys = by.map((dimension, index) => `${EXPRESSIONS[dimension]} as k${index}`).join(', ');
  const result = await schema.query<Record<string, string | number | null>>(
    `select ${keys}, count(*)::int as n from ${schema.table()} where created_at >= $1 and created_at < $2 and ${where} group by ${by.map((_, i) => i + 1).join(', ')}`,
    [SINCE, UNTIL],
  );
  return result.rows.map((r) => Object.fromEntries([...by.map((dimension, index) => [dimension, r[`k${index}`] ?? null]), ['count', r.n]]));
}

describe('stats: every number is the GROUP BY, whatever the time zones', () => {
  it('each dimension and pairs of them, bounds included and excluded as documented, days and hours in UTC', async () => {
    for (const by of [['operator'], ['operation'], ['resource'], ['source'], ['ip'], ['day'], ['hour'], ['weekday'], ['operator', 'operation'], ['resource', 'day'], ['weekday', 'hour'], ['source', 'ip'], ['operator', 'day']]) {
      const view = (await json('--by', by.join(','))).views[0];
      expect(sorted(view?.groups ?? []), by.join(',')).toEqual(sorted(await truth(by)));
      expect(view?.total, by.join(',')).toBe(15);
    }
    // Filters narrow the same way.
    const deletes = (await json('--by', 'operator,day', '--operation', 'delete')).views[0];
    expect(sorted(deletes?.groups ?? [])).toEqual(sorted(await truth(['operator', 'day'], `lower(operation) = 'delete'`)));
  });

  it('net: a /24 for IPv4 (IPv4-mapped IPv6 too), a /64 for IPv6, null without an address', async () => {
    const view = (await json('--by', 'net')).views[0];
    expect(sorted(view?.groups ?? [])).toEqual(
      sorted([
        { net: '10.1.2.0/24', count: 3 },
        { net: '10.0.0.0/24', count: 4 },
        { net: '192.0.2.0/24', count: 2 },
        { net: '10.9.9.0/24', count: 1 },
        { net: '2001:db8:1:2::/64', count: 2 },
        { net: '::/64', count: 1 },
        { net: null, count: 2 },
      ]),
    );
  });

  it('net over a text column: values inet cannot read go to the group of no address instead of failing the statement', async () => {
    const table = schema.table('text_ip');
    await schema.query(`create table ${table} (id bigserial primary key, created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text, source_ip text)`);
    const values = ['10.0.0.1', 'cafe', '1.2.3', '10.0.0.1/33', ':::', '::ffff:10.0.0.9', '2001:db8::1', '2001:db8::1/129', '1.2.3.4 ', 'dead::1.2.3.4', '\u001b[2J\u001b]0;x\u0007', null];
    await schema.query(`insert into ${table} (created_at, operator, source_ip) select $1, 'x', unnest($2::text[])`, ['2026-10-02T00:00:00Z', values]);
    const result = await spawnCli(['--db', databaseUrl(), '--table', table, 'stats', '--since', SINCE, '--until', UNTIL, '--by', 'net', '--output', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const groups = (JSON.parse(result.stdout) as Stats).views[0]?.groups ?? [];
    // The same pattern serves --ip (list, stats, export): a bad value is no match, not a failed listing; an IPv4 block
    // also holds IPv4-mapped IPv6 addresses.
    const listed = await spawnCli(['--db', databaseUrl(), '--table', table, 'list', '--ip', '10.0.0.0/8', '--output', 'ndjson']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n').map((line) => JSON.parse(line).source_ip)).toEqual(['::ffff:10.0.0.9', '10.0.0.1']);
    // The pictures and the unusual marks name the addresses as written, escapes made visible.
    const text = await spawnCli(['--db', databaseUrl(), '--table', table, 'stats', '--since', SINCE, '--until', UNTIL]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('! new source IP: x from \\u001b[2J\\u001b]0;x\\u0007 since');
    expect(text.stdout).not.toContain('\u001b');
    expect(sorted(groups)).toEqual(sorted([{ net: '10.0.0.0/24', count: 2 }, { net: '2001:db8::/64', count: 1 }, { net: 'dead::/64', count: 1 }, { net: null, count: 8 }]));
  });

  it('the overview counts the same in JSON and CSV', async () => {
    const overview = await json();
    const csv = (await stats('--output', 'csv')).stdout.split('\r\n').filter(Boolean);
    const fromJson = overview.views.flatMap((view) => view.groups.map((group) => [view.by.join(','), ...view.by.map((d) => group[d] ?? ''), ...(view.by.length === 1 ? [''] : []), group.count].map(String)));
    const parse = (line: string) => (line.match(/("([^"]|"")*"|[^,]*)(,|$)/g) ?? []).slice(0, 4).map((cell) => cell.replace(/,$/, '').replace(/^"(.*)"$/, '$1').replaceAll('""', '"'));
    expect(csv[0]).toBe('view,key,key2,count');
    expect(csv.slice(1).map(parse).map((cells) => JSON.stringify(cells)).sort()).toEqual(fromJson.map((cells) => JSON.stringify(cells)).sort());
  });
});

describe('stats: the unusual rules as the README defines them', () => {
  it('a first change ever and a new source IP are looked up in the whole table, whatever the filters', async () => {
    const { unusual } = await json('--operation', 'DELETE');
    expect(unusual?.first_changes).toEqual([{ operator: 'fresh', first: '2026-10-05T10:00:00.000000Z' }]);
    const pairs = (unusual?.new_source_ips ?? []).map((pair) => `${pair.operator}@${pair.ip} ${pair.first} ${pair.count}`).sort();
    expect(pairs).toEqual(['fresh@192.0.2.1 2026-10-05T10:00:00.000000Z 1', 'veteran@10.0.0.2 2026-10-05T00:00:00.000000Z 1', 'veteran@10.0.0.3 2026-10-02T00:00:00.000000Z 1']);
    const all = await json();
    expect(all.unusual?.first_changes.map((change) => change.operator)).toEqual(expect.arrayContaining(['fresh', '', '张伟', FORMULA, '(none)', 'null']));
    expect(all.unusual?.first_changes.map((change) => change.operator)).not.toContain('alice');
    expect(all.unusual?.first_changes.map((change) => change.operator)).not.toContain('veteran');
  });
});

describe('stats: a busy day counts the window\'s entries of that day', () => {
  it('a window starting at noon is not marked busy for the changes made that morning; from midnight it is', async () => {
    const noon = JSON.parse((await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--since', '2025-06-20T12:00:00Z', '--until', '2025-06-21', '--by', 'operator,day', '--json'])).stdout) as Stats;
    expect(noon.views[0]?.groups).toEqual([{ operator: 'bursty', day: '2025-06-20', count: 1 }]);
    expect(noon.unusual?.busy_days).toEqual([]);
    const midnight = JSON.parse((await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--since', '2025-06-20', '--until', '2025-06-21', '--by', 'operator', '--json'])).stdout) as Stats;
    expect(midnight.unusual?.busy_days).toEqual([{ operator: 'bursty', day: '2025-06-20', count: 11, median: 1 }]);
  });
});

describe('stats: pictures with hostile and wide names', () => {
  it('bars line up by display width; the entries without an operator carry no one else\'s marks; no group vanishes', async () => {
    const result = await stats('--by', 'operator');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('\u001b');
    const bars = result.stdout.split('\n').filter((line) => line.includes('█'));
    const starts = new Set(bars.map((line) => stringWidth(line.slice(0, line.indexOf('█')))));
    expect(starts.size).toBe(1);
    // The entries without an operator: "(none)", no marks. An operator named "(none)" or "" is quoted, with its own.
    const none = bars.filter((line) => line.startsWith('(none) '));
    expect(none).toHaveLength(1);
    expect(none[0]).not.toContain('!');
    expect(bars.find((line) => line.startsWith('"(none)" '))).toContain('! first change ever');
    expect(bars.find((line) => line.startsWith('"" '))).toContain('! first change ever');
    expect(result.stdout).toContain('! first change ever: "(none)" at');
    const series = await stats('--by', 'operator,day');
    const totals = [...series.stdout.matchAll(/total (\d+), peak/g)].map((match) => Number(match[1]));
    expect(totals.reduce((sum, n) => sum + n, 0)).toBe(15);
  });

  it('one entry dated 9999 does not break the overview or the day views (2.9 million days were filled in)', async () => {
    for (const args of [[], ['--by', 'day'], ['--by', 'operator,day']]) {
      const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--since', SINCE, ...args], { timeoutMs: 60_000 });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(result.stdout, args.join(' ')).toMatch(/\(the days span 2026-10-01 to 9999-01-01: only the \d+ days with entries are drawn\)/);
      expect(result.stdout.length, args.join(' ')).toBeLessThan(20_000);
    }
  });

  it('csv keeps a value that starts like a formula exactly as stored (as list does: csv.ts)', async () => {
    const csv = await stats('--by', 'operator', '--output', 'csv');
    expect(csv.stdout.split('\r\n')).toContain(`${FORMULA},1`);
  });

  it('on a 40-column terminal a year of days fits in 40 columns (marks of several days, the numbers under them), and so do the bars of a view without marks', async () => {
    const tty = await spawnInPty(['--db', chathamUrl(), '--table', schema.table(), 'stats', '--since', '2025-12-01', '--until', '2026-12-01'], {
      env: { LANG: 'C.UTF-8', NO_COLOR: '1' },
      cols: 40,
    });
    expect(tty.code).toBe(0);
    const lines = stripVTControlCharacters(tty.output).split(/\r?\n/);
    const at = lines.findIndex((line) => line.startsWith('By day'));
    const [marks, numbers] = [lines[at + 1] ?? '', lines[at + 2] ?? ''];
    expect(marks).toMatch(/ \d+ days a mark$/);
    expect(numbers).toBe('total 18, peak 3 at 2026-10-05');
    expect(stringWidth(marks)).toBeLessThanOrEqual(40);
    const operation = lines.slice(lines.findIndex((line) => line.startsWith('By operation')) + 1);
    for (const line of operation.slice(0, operation.indexOf(''))) expect(stringWidth(line), line).toBeLessThanOrEqual(40);
    // A sparkline per operator: the labels give way, every line fits.
    const perOperator = await spawnInPty(['--db', chathamUrl(), '--table', schema.table(), 'stats', '--since', '2025-12-01', '--until', '2026-12-01', '--by', 'operator,day'], {
      env: { LANG: 'C.UTF-8', NO_COLOR: '1' },
      cols: 40,
    });
    const drawn = stripVTControlCharacters(perOperator.output).split(/\r?\n/).filter((line) => /days a mark|^ +total/.test(line));
    expect(drawn.length).toBeGreaterThan(10);
    for (const line of drawn) expect(stringWidth(line), line).toBeLessThanOrEqual(40);
  });
});
