import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { ndjsonIds } from '../support/wait.js';

// --since, --until and history's times in the form every command prints a timestamp outside years 1-9999 (ISO 8601's
// expanded year, BC astronomical: 44 BC is -000043, 1 BC 0000; af3575c). They were refused ("expected a duration
// ... or an ISO 8601 time"), so no window could hold 44 BC, and a timestamp copied from list's output into --since
// was bad input. Each window is checked against PostgreSQL's own comparison of the entries' timestamps.

let schema: TestSchema;
let dir = '';

const TIMES = [
  '4714-11-24 00:00:00+00 BC', // PostgreSQL's first instant: -004713-11-24
  '4713-11-24 00:00:00.125+00 BC',
  '0045-02-29 12:00:00+00 BC', // a leap day: astronomical year -44
  '0044-03-15 12:00:00.5+00 BC',
  '0044-03-15 12:00:00.500001+00 BC',
  '0001-12-31 23:59:59.999999+00 BC', // 1 BC: 0000
  '0001-01-01 00:00:00+00',
  '2026-01-01 00:00:00+00',
  '9999-12-31 23:59:59.999999+00',
  '10000-01-01 00:00:00+00',
  '12026-01-01 00:00:00+00',
  '275760-09-13 00:00:00+00', // Date's last instant
];

const cli = (args: string[]): Promise<CliResult> => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args]);

beforeAll(async () => {
  schema = await createTestSchema('bc_bounds');
  await createDefaultTable(schema);
  for (const [n, time] of TIMES.entries()) {
    await schema.query(`insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, after) values ($1, 'op', 'update', 'route', 'r', $2)`, [time, { n }]);
  }
  dir = await mkdtemp(join(tmpdir(), 'bc-time-bounds-'));
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** The ids PostgreSQL finds by `condition` on created_at (with $1), in time order. */
async function idsWhere(condition: string, value: string): Promise<string[]> {
  const { rows } = await schema.query<{ id: string }>(`select id::text as id from ${schema.table()} where ${condition} order by created_at, id`, [value]);
  return rows.map((row) => row.id);
}

/** Every entry as list prints it: id and timestamp text. */
async function printed(): Promise<{ id: string; timestamp: string }[]> {
  const result = await cli(['list', '--all', '--order', 'asc', '-o', 'ndjson']);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; timestamp: string });
}

async function listIds(...window: string[]): Promise<string[]> {
  const result = await cli(['list', '--all', '--order', 'asc', '-o', 'ndjson', ...window]);
  expect(result.code, `${window.join(' ')}: ${result.stderr}`).toBe(0);
  return ndjsonIds(result.stdout);
}

function expectUsageLine(result: CliResult, ...names: string[]): void {
  expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
  for (const name of names) expect(result.stderr).toContain(name);
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
}

describe('a time bound in the form the output prints', () => {
  it("list: each entry's printed timestamp as --since holds it and what follows, as --until what precedes it", async () => {
    const entries = await printed();
    expect(entries.map((entry) => entry.timestamp)).toEqual(expect.arrayContaining(['-004713-11-24T00:00:00.000000Z', '-000043-03-15T12:00:00.500001Z', '0000-12-31T23:59:59.999999Z', '+275760-09-13T00:00:00.000000Z']));
    for (const { id, timestamp } of entries) {
      const at = `(select created_at from ${schema.table()} where id = $1::bigint)`;
      expect(await listIds('--since', timestamp), `--since ${timestamp}`).toEqual(await idsWhere(`created_at >= ${at}`, id));
      expect(await listIds('--until', timestamp), `--until ${timestamp}`).toEqual(await idsWhere(`created_at < ${at}`, id));
    }
  });

  it('list: dates alone, offsets, spaces and fractions mean the instant PostgreSQL reads in them', async () => {
    const cases: [string, string, string][] = [
      ['--since', '-000044-02-29', '0045-02-29 00:00:00+00 BC'],
      ['--since', '-000043-03-15T13:00:00.5+01:00', '0044-03-15 12:00:00.5+00 BC'],
      ['--since', '-000043-03-15 12:00:00.500001', '0044-03-15 12:00:00.500001+00 BC'],
      ['--until', '0001-01-01T01:00:00+01:00', '0001-01-01 00:00:00+00'],
      ['--until', '0000-12-31T23:59:59.999999Z', '0001-12-31 23:59:59.999999+00 BC'],
      ['--since', '+010000-01-01', '10000-01-01 00:00:00+00'],
      ['--until', '+012026-01-01T05:30:00+05:30', '12026-01-01 00:00:00+00'],
      ['--since', '-004713-11-24', '4714-11-24 00:00:00+00 BC'],
      ['--until', '+275760-09-13T00:00:00Z', '275760-09-13 00:00:00+00'],
    ];
    for (const [flag, value, postgres] of cases) {
      const truth = await idsWhere(`created_at ${flag === '--since' ? '>=' : '<'} $1::timestamptz`, postgres);
      expect(truth.length, value).toBeGreaterThan(0);
      expect(await listIds(flag, value), `${flag} ${value}`).toEqual(truth);
    }
    // A window around 44 BC alone: its two entries.
    expect(await listIds('--since', '-000043-01-01', '--until', '-000042-01-01')).toEqual(await idsWhere(`extract(year from created_at at time zone 'UTC') = $1::int`, '-44'));
  });

  it('export --out sends exactly the window, and its checkpoint continues after it', async () => {
    const out = join(dir, 'bc.ndjson');
    const checkpoint = join(dir, 'bc-checkpoint.json');
    const window = ['--since', '-000043-03-15T12:00:00.500000Z', '--until', '0000-12-31T23:59:59.999999Z'];
    const result = await cli(['export', '--out', out, '--checkpoint', checkpoint, '--settle', '0', ...window]);
    expect(result.code, result.stderr).toBe(0);
    const sent = (await readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { id: string; timestamp: string });
    expect(sent.map((entry) => entry.id)).toEqual(await idsWhere(`created_at >= '0044-03-15 12:00:00.5+00 BC' and created_at < $1::timestamptz`, '0001-12-31 23:59:59.999999+00 BC'));
    expect(sent.map((entry) => entry.timestamp)).toEqual(['-000043-03-15T12:00:00.500000Z', '-000043-03-15T12:00:00.500001Z']);
    const again = await cli(['export', '--out', join(dir, 'bc-again.ndjson'), '--checkpoint', checkpoint, '--settle', '0', ...window]);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(join(dir, 'bc-again.ndjson'), 'utf8')).toBe('');
  });

  it('stats counts the window; history reads the state at a BC time and prints that time as given', async () => {
    const stats = await cli(['stats', '--by', 'day', '--since', '-000044-02-29T12:00:00Z', '--until', '0001-01-01', '-o', 'json']);
    expect(stats.code, stats.stderr).toBe(0);
    const groups = (JSON.parse(stats.stdout) as { views: { groups: { day: string; count: number }[] }[] }).views[0]?.groups;
    expect(groups).toEqual([{ day: '-000044-02-29', count: 1 }, { day: '-000043-03-15', count: 2 }, { day: '0000-12-31', count: 1 }]);

    const at = await cli(['history', 'route:r', '--at', '-000043-03-15T12:00:00.5Z', '-o', 'json']);
    expect(at.code, at.stderr).toBe(0);
    const state = JSON.parse(at.stdout) as { at: string; state: { n: number }; entry: { timestamp: string } };
    expect([state.at, state.state, state.entry.timestamp]).toEqual(['-000043-03-15T12:00:00.500000Z', { n: 3 }, '-000043-03-15T12:00:00.500000Z']);
    const diff = await cli(['history', 'route:r', '--diff', '-000044-02-29T12:00:00Z..+010000-01-01', '-o', 'json']);
    expect(diff.code, diff.stderr).toBe(0);
    const sides = JSON.parse(diff.stdout) as { from: { at: string }; to: { at: string }; changes: { path: string; before: unknown; after: unknown }[] };
    expect([sides.from.at, sides.to.at]).toEqual(['-000044-02-29T12:00:00.000000Z', '+010000-01-01T00:00:00.000000Z']);
    expect(sides.changes).toEqual([{ path: '$.n', before: 2, after: 9 }]);
  });

  it('a year in another form, or outside what PostgreSQL and Date hold, is bad input: one line naming the value', async () => {
    const bad = [
      ['-000000-01-01', 'there is no year -0'],
      ['-000000-03-15T12:00:00Z', 'there is no year -0'],
      ['+0100000-01-01T00:00:00Z', 'a sign and six digits'],
      ['-0000043-03-15', 'a sign and six digits'],
      ['012026-01-01', 'a sign and six digits'],
      ['12026-01-01', 'a sign and six digits'],
      ['-0043-03-15', 'a sign and six digits'],
      ['+2026-01-01', 'a sign and six digits'],
      ['-004713-11-23T23:59:59.999999Z', '-004713-11-24T00:00:00Z (4714 BC)'],
      ['-004713-11-24T00:00:00+00:01', '-004713-11-24T00:00:00Z (4714 BC)'],
      ['-004714-01-01', '-004713-11-24T00:00:00Z (4714 BC)'],
      ['+275760-09-13T00:00:00.000001Z', '+275760-09-13T00:00:00Z'],
      ['+294276-12-31T23:59:59Z', '+275760-09-13T00:00:00Z'],
      ['+999999-01-01', '+275760-09-13T00:00:00Z'],
      ['-000043-02-29', 'ISO 8601'], // 44 BC was no leap year
    ];
    for (const [value, why] of bad as [string, string][]) {
      const runs: [string, string[]][] = [
        ['--since', ['list', '--since', value]],
        ['--until', ['export', '--out', join(dir, 'never.ndjson'), '--until', value]],
        ['--since', ['stats', '--since', value]],
        ['--at', ['history', 'route:r', '--at', value]],
      ];
      for (const [flag, args] of runs) expectUsageLine(await cli(args), `invalid ${flag} '${value}'`, why);
    }
    // An empty range is said in time order, not text order (+010000-... sorts before -000043-... as text).
    expectUsageLine(await cli(['list', '--since', '+010000-01-01', '--until', '-000043-01-01']), 'empty range', "--since +010000-01-01");
    expect((await cli(['list', '--since', '-000043-01-01', '--until', '+010000-01-01', '-o', 'json'])).code).toBe(0);
  });
});
