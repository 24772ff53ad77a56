import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { ndjsonIds } from '../support/wait.js';

// H40: --since/--until by the instant an entry prints, through the binary, on timestamps whose raw order is not
// that instant's: local time in Europe/Berlin (the hour repeated in autumn, with an entry at each of its two
// instances, and the hour skipped in spring), float8 and numeric epochs finer than a microsecond; and the exact
// integer epochs beside them. Consecutive windows [t_i, t_i+1) with bounds on every printed instant and a second (or
// a microsecond) either side: each window is what SQL says holds that instant range, and every entry is in exactly
// one window; export, follow and stats take the same. The raw column against the converted bound put an entry in the wrong window, in two, or in none.

let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-h40-bounds-'));
  schema = await createTestSchema('acc_h40_bounds');
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const COLUMNS = 'operator text, operation text, resource_type text, resource_id text, source_ip inet, before jsonb, after jsonb';

interface Layout {
  name: string;
  type: string;
  /** The mapping's timestamp entry in the config file. */
  spec: string;
  /** SQL: the instant column `ts` stands for, as the tool prints it. */
  instant: string;
  /** Raw values, as SQL literals; each is one entry (a value twice: two entries). */
  values: string[];
  /** How far either side of each printed instant a bound also goes: '1 second' or '1 microsecond'. */
  step: string;
}

async function setUp(layout: Layout): Promise<{ config: string; table: string; bounds: string[] }> {
  const table = schema.table(layout.name);
  await schema.query(`create table ${table} (id bigint primary key, ts ${layout.type} not null, ${COLUMNS})`);
  // Ids falling as the raw value rises, so id order cannot stand in for time order.
  await schema.query(`insert into ${table} (id, ts, operator, operation)
    select 1000 - n, v, 'op' || (1000 - n), 'update' from unnest(array[${layout.values.join(', ')}]::${layout.type}[]) with ordinality as x(v, n)`);
  const config = join(dir, `${layout.name}.yaml`);
  await writeFile(config, `table: ${table}\ncolumns:\n  timestamp: ${layout.spec}\n`, { mode: 0o600 });
  const iso = (expression: string) => `to_char((${expression}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  const bounds = await schema.query<{ at: string }>(`select distinct ${iso('t')} as at from (
      select ${layout.instant} + k * interval '${layout.step}' as t from ${table}, generate_series(-1, 1) k
      union all select min(${layout.instant}) - interval '1 hour' from ${table}
      union all select max(${layout.instant}) + interval '1 hour' from ${table}) b order by 1`);
  return { config, table, bounds: bounds.rows.map((row) => row.at) };
}

/** What SQL says is in [since, until) by the instant, in the tool's order. */
async function truth(table: string, layout: Layout, since: string, until: string): Promise<string[]> {
  const result = await schema.query<{ id: string }>(
    `select id::text as id from ${table} where ${layout.instant} >= $1 and ${layout.instant} < $2 order by ${layout.instant}, ${table}.id`,
    [since, until],
  );
  return result.rows.map((row) => row.id);
}

const cli = (config: string, ...args: string[]) => spawnCli(['--db', databaseUrl(), '--config', config, ...args]);

async function listWindow(config: string, since: string, until: string): Promise<string[]> {
  const result = await cli(config, 'list', '--since', since, '--until', until, '--all', '--order', 'asc', '--output', 'ndjson');
  expect(result.code, result.stderr).toBe(0);
  return ndjsonIds(result.stdout);
}

/** Runs `work` over `items`, `width` at a time: bounded in processes at once. */
async function inBatches<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += width) results.push(...(await Promise.all(items.slice(start, start + width).map(work))));
  return results;
}

async function attackWindows(layout: Layout): Promise<void> {
  const { config, table, bounds } = await setUp(layout);
  expect(bounds.length).toBeLessThan(80);
  const windows = bounds.slice(1).map((until, i) => [bounds[i] as string, until] as const);
  const seen = await inBatches(windows, 4, async ([since, until]) => {
    const got = await listWindow(config, since, until);
    expect(got, `list --since ${since} --until ${until}`).toEqual(await truth(table, layout, since, until));
    return got;
  });
  const all = (await schema.query<{ id: string }>(`select id::text as id from ${table} order by id`)).rows.map((row) => row.id);
  expect(seen.flat().sort()).toEqual(all);
}

/** export --out -, follow and stats read the same bounds: a window at each edge where the raw order and the instant's part. */
async function attackExportAndStats(layout: Layout, windows: [string, string][]): Promise<void> {
  const { config, table } = await setUp(layout);
  for (const [since, until] of windows) {
    const expected = await truth(table, layout, since, until);
    const exported = await cli(config, 'export', '--out', '-', '--since', since, '--until', until, '--settle', '0s');
    expect(exported.code, exported.stderr).toBe(0);
    expect(ndjsonIds(exported.stdout), `export --since ${since} --until ${until}`).toEqual(expected);
    // follow has no end: everything from --since on.
    const followed = await cli(config, 'follow', '--since', since, '--for', '1s', '--interval', '200ms', '--output', 'ndjson');
    expect(followed.code, followed.stderr).toBe(0);
    expect(ndjsonIds(followed.stdout), `follow --since ${since}`).toEqual(await truth(table, layout, since, '2100-01-01T00:00:00Z'));
    const stats = await cli(config, 'stats', '--since', since, '--until', until, '--by', 'operator', '--output', 'csv');
    expect(stats.code, stats.stderr).toBe(0);
    const operators = stats.stdout.split('\n').slice(1).filter(Boolean).map((line) => line.split(',')[0]).sort();
    expect(operators, `stats --since ${since} --until ${until}`).toEqual(expected.map((id) => `op${id}`).sort());
  }
}

const BERLIN_SPRING = ['01:59:58', '01:59:59', '02:00:00', '02:00:01', '02:30:00', '02:59:59', '03:00:00', '03:00:01', '03:30:00'];
// The repeated hour: 02:00:00, 02:30:00 and 02:59:59 twice, one entry at each instance (both are stored alike).
const BERLIN_AUTUMN = ['01:59:59', '02:00:00', '02:00:00', '02:00:01', '02:30:00', '02:30:00', '02:59:59', '02:59:59', '03:00:00', '03:00:01'];
const local = (name: string, day: string, times: string[]): Layout => ({
  name, type: 'timestamp', spec: '{ column: ts, time_zone: Europe/Berlin }', instant: `(ts at time zone 'Europe/Berlin')`,
  values: times.map((time) => `'${day} ${time}'`), step: '1 second',
});
// Raw fractions around the microseconds .123456 to .123458: some round up to the next one, some down.
const FRACTIONS = ['1234554', '1234560', '1234564', '1234566', '1234569', '1234571', '1234575', '1234576', '1234579'];
const epoch = (name: string, type: string, unit: 'seconds' | 'milliseconds'): Layout => ({
  name, type, spec: `{ column: ts, epoch: ${unit} }`,
  instant: unit === 'seconds' ? 'to_timestamp(ts)' : 'to_timestamp(ts / 1000.0)',
  values: FRACTIONS.map((f) => (unit === 'seconds' ? `'1772323200.${f}'` : `'1772323200${f.slice(0, 3)}.${f.slice(3)}'`)),
  step: '1 microsecond',
});

describe('consecutive --since/--until windows through the binary: every entry in exactly one, the one SQL says', () => {
  it('local time in Europe/Berlin, the hour skipped in spring', { timeout: 120_000 }, () => attackWindows(local('berlin_spring', '2026-03-29', BERLIN_SPRING)));
  it('local time in Europe/Berlin, the hour repeated in autumn (an entry at each instance)', { timeout: 120_000 }, () => attackWindows(local('berlin_autumn', '2026-10-25', BERLIN_AUTUMN)));
  it('a float8 epoch in seconds finer than a microsecond', { timeout: 120_000 }, () => attackWindows(epoch('float_seconds', 'float8', 'seconds')));
  it('a float8 epoch in milliseconds finer than a microsecond', { timeout: 120_000 }, () => attackWindows(epoch('float_millis', 'float8', 'milliseconds')));
  it('a numeric epoch in seconds finer than a microsecond', { timeout: 120_000 }, () => attackWindows(epoch('numeric_seconds', 'numeric', 'seconds')));
  it('whole epoch seconds (bigint) and milliseconds (bigint), bounds a microsecond either side of each', { timeout: 120_000 }, async () => {
    await attackWindows({ name: 'int_seconds', type: 'int8', spec: '{ column: ts, epoch: seconds }', instant: 'to_timestamp(ts)', values: ['1772323199', '1772323200', '1772323200', '1772323201'], step: '1 microsecond' });
    await attackWindows({ name: 'int_millis', type: 'int8', spec: '{ column: ts, epoch: milliseconds }', instant: 'to_timestamp(ts / 1000.0)', values: ['1772323199999', '1772323200000', '1772323200001', '1772323200001'], step: '1 microsecond' });
  });
});

describe('export, follow and stats take the same entries at those bounds', () => {
  it('Berlin: windows starting and ending inside the repeated hour and the skipped one', { timeout: 120_000 }, async () => {
    await attackExportAndStats(local('berlin_autumn_export', '2026-10-25', BERLIN_AUTUMN), [
      ['2026-10-25T00:30:00.000000Z', '2026-10-25T01:30:00.000000Z'], ['2026-10-24T23:59:59.000000Z', '2026-10-25T01:00:00.000000Z'],
    ]);
    await attackExportAndStats(local('berlin_spring_export', '2026-03-29', BERLIN_SPRING), [
      ['2026-03-29T01:00:00.000000Z', '2026-03-29T01:00:01.000000Z'], ['2026-03-29T00:59:59.000000Z', '2026-03-29T01:00:00.000000Z'],
      ['2026-03-29T01:00:01.000000Z', '2026-03-29T01:30:00.000000Z'],
    ]);
  });
  it('a float8 epoch: a window of one microsecond', { timeout: 120_000 }, async () => {
    await attackExportAndStats(epoch('float_export', 'float8', 'seconds'), [
      ['2026-03-01T00:00:00.123457Z', '2026-03-01T00:00:00.123458Z'], ['2026-03-01T00:00:00.123456Z', '2026-03-01T00:00:00.123457Z'],
    ]);
  });
});
