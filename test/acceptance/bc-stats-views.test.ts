import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

// stats' hour, weekday and busy-day views for entries before year 1 and after 9999, on every timestamp shape: a
// timestamptz, epoch seconds and milliseconds, a local time. The epoch and local-time shapes read the timestamp
// through to_char's text, which prints 44 BC as 0044: the weekday was AD 44's, and busy days were ordered (and
// compared with --since) as AD dates. Each view is checked against PostgreSQL's own reading of the instants.

let schema: TestSchema;
let dir = '';
const configs: Record<string, string> = {};

const AT = [
  '4714-12-20 00:00:00+00 BC', '0045-02-28 23:30:00+00 BC', '0044-03-15 12:00:00.5+00 BC', '0044-03-16 03:00:00+00 BC',
  '0001-12-31 23:00:00+00 BC', '0001-01-01 01:00:00+00', '2026-01-05 10:00:00+00', '9999-12-31 22:00:00+00',
  '10000-01-03 07:00:00+00', '12026-06-01 18:00:00+00',
];
// Busy days of 'busy' in 45 BC and 44 BC: one change on three days before the window, ten on each of two days in it.
const BUSY = ['0045-11-10', '0045-11-11', '0045-11-12', ...Array<string>(10).fill('0045-12-30'), ...Array<string>(10).fill('0044-01-02')].map((day) => `${day} 05:00:00+00 BC`);

const SHAPES = {
  timestamptz: 'created_at',
  'epoch seconds': '{ column: ts_s, epoch: seconds }',
  'epoch milliseconds': '{ column: ts_ms, epoch: milliseconds }',
  'local time (Asia/Tokyo)': '{ column: ts_local, time_zone: Asia/Tokyo }',
} as const;
type Shape = keyof typeof SHAPES;

beforeAll(async () => {
  schema = await createTestSchema('bc_stats');
  await schema.query(`create table ${schema.table()} (id bigserial primary key, created_at timestamptz not null, operator text, operation text,
    resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
  await insertRows(schema, AT.map((at, i) => ({ at, operator: `op${i % 3}` })));
  await insertRows(schema, BUSY.map((at) => ({ at, operator: 'busy' })));
  // The same instants in the other shapes, beside created_at.
  await schema.query(`alter table ${schema.table()} add column ts_s numeric, add column ts_ms bigint, add column ts_local timestamp`);
  await schema.query(`update ${schema.table()} set ts_s = extract(epoch from created_at), ts_ms = (extract(epoch from created_at) * 1000)::bigint,
    ts_local = created_at at time zone 'Asia/Tokyo'`);
  dir = await mkdtemp(join(tmpdir(), 'bc-stats-views-'));
  for (const [shape, timestamp] of Object.entries(SHAPES)) {
    const file = join(dir, `${shape.replace(/\W+/g, '-')}.yaml`);
    await writeFile(file, `table: ${schema.table()}
columns: { id: id, timestamp: ${timestamp}, operator: operator, operation: operation, resource_type: resource_type,
           resource_id: resource_id, resource_name: resource_name, source_ip: source_ip, source: source, before: before, after: after }
`);
    configs[shape] = file;
  }
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Every entry: without --since, stats reads the last 30 days. From PostgreSQL's first day: a local-time bound within
 * 14 days of it failed, 'timestamp out of range', as entry-columns.ts widened it by two weeks.
 */
const ALL = ['--since', '-004713-11-24'];

const stats = async (shape: Shape, args: string[]) => {
  const result = await spawnCli(['--db', databaseUrl(), '--config', configs[shape] as string, 'stats', ...args, '-o', 'json']);
  expect(result.code, `${shape}: ${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as {
    views: { groups: Record<string, number | string>[] }[];
    unusual?: { busy_days: { operator: string; day: string; count: number; median: number }[] };
  };
};

/** PostgreSQL's count per value of `key` (an expression of the UTC `timestamp` u), as stats prints a view. */
async function truth(keys: Record<string, string>): Promise<Record<string, number>[]> {
  const names = Object.keys(keys);
  const { rows } = await schema.query<Record<string, number>>(`select ${names.map((name) => `${keys[name]} as "${name}"`).join(', ')}, count(*)::int as count
    from (select created_at at time zone 'UTC' as u from ${schema.table()}) t group by ${names.map((_, n) => n + 1).join(', ')}`);
  return rows;
}

const sorted = <T extends Record<string, unknown>>(rows: T[]) => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('stats views of entries outside years 1-9999, on every timestamp shape', () => {
  it.each(Object.keys(SHAPES) as Shape[])('%s: weekday, hour and weekday x hour as PostgreSQL reads the instants', async (shape) => {
    const weekday = await stats(shape, ['--by', 'weekday', ...ALL]);
    expect(sorted(weekday.views[0]?.groups ?? []), 'weekday').toEqual(sorted(await truth({ weekday: 'extract(isodow from u)::int' })));
    const hour = await stats(shape, ['--by', 'hour', ...ALL]);
    expect(sorted(hour.views[0]?.groups ?? []), 'hour').toEqual(sorted(await truth({ hour: 'extract(hour from u)::int' })));
    const both = await stats(shape, ['--by', 'weekday,hour', ...ALL]);
    expect(sorted(both.views[0]?.groups ?? []), 'weekday x hour').toEqual(sorted(await truth({ weekday: 'extract(isodow from u)::int', hour: 'extract(hour from u)::int' })));
  });

  it.each(Object.keys(SHAPES) as Shape[])('%s: busy days across 45 and 44 BC, in time order', async (shape) => {
    const result = await stats(shape, ['--since', '-000044-12-01', '--until', '-000042-01-01']);
    expect(result.unusual?.busy_days).toEqual([
      { operator: 'busy', day: '-000044-12-30', count: 10, median: 1 },
      { operator: 'busy', day: '-000043-01-02', count: 10, median: 1 },
    ]);
  });
});
