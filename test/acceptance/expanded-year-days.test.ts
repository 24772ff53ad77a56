import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

// stats' day buckets and doctor's time checks for entries outside years 1-9999, which print ISO 8601's expanded year
// (1 BC: 0000-..., 44 BC: -000043-..., 10000 AD: +010000-...): days as entries print them, in time order, and times
// compared as instants (text puts +010000-... before 2026-... and 9999-...).

let schema: TestSchema;
let dir: string;
const AT = [
  '0001-12-31 23:59:59.999+00 BC', '0001-01-01 00:00:00+00', '0001-01-02 00:00:00+00', '0001-01-02 10:00:00+00',
  '9999-12-30 12:00:00+00', '9999-12-31 23:59:59.999999+00', '10000-01-02 00:00:00+00', '10000-01-02 05:00:00+00',
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-expanded-days-'));
  schema = await createTestSchema('expanded_days');
  for (const table of ['audit_logs', 'future']) {
    await schema.query(`create table ${schema.table(table)} (id bigserial primary key, created_at timestamptz not null, operator text, operation text,
      resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
  }
  await insertRows(schema, AT.map((at, i) => ({ at, operator: i % 2 ? 'a' : 'b' })));
  // An operator busy on a day of year 10000: one change a day before, ten on 10000-01-03.
  await insertRows(schema, ['9999-12-28', '9999-12-29', '9999-12-30', ...Array<string>(10).fill('10000-01-03')].map((day) => ({ at: `${day} 01:00:00+00`, operator: 'busy' })));
  await insertRows(schema, [{ at: '10000-01-02 00:00:00+00', operator: 'a' }, { at: '12026-06-01 00:00:00+00', operator: 'a' }], 'future');
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const cli = (args: string[], table = 'audit_logs') => spawnCli(['--db', databaseUrl(), '--table', schema.table(table), ...args]);

/** Each day's count from PostgreSQL, its date written with the expanded year, in time order. */
async function truthDays(since: string): Promise<{ day: string; count: number }[]> {
  const rows = (await schema.query<{ y: number; m: number; d: number; n: string }>(`
    select extract(year from u)::int + case when u < timestamp '0001-01-01' then 1 else 0 end as y, extract(month from u)::int as m,
      extract(day from u)::int as d, count(*) as n
    from (select created_at at time zone 'UTC' as u from ${schema.table()} where created_at >= $1::timestamptz) t group by 1, 2, 3 order by 1, 2, 3`, [since])).rows;
  const pad = (n: number) => String(n).padStart(2, '0');
  const year = (y: number) => (y >= 0 && y <= 9999 ? String(y).padStart(4, '0') : `${y < 0 ? '-' : '+'}${String(Math.abs(y)).padStart(6, '0')}`);
  return rows.map((row) => ({ day: `${year(row.y)}-${pad(row.m)}-${pad(row.d)}`, count: Number(row.n) }));
}

describe('stats --by day', () => {
  it('prints each day as entries print it, in time order, with PostgreSQL\'s counts', async () => {
    const result = await cli(['stats', '--by', 'day', '--since', '0000-01-01', '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const groups = (JSON.parse(result.stdout) as { views: { groups: { day: string; count: number }[] }[] }).views[0]?.groups;
    const truth = await truthDays('0001-01-01 00:00:00+00 BC');
    expect(groups).toEqual(truth);
    expect(truth.map((t) => t.day)).toContain('0000-12-31');
    expect(truth.map((t) => t.day)).toContain('+010000-01-03');
  });

  it('the chart fills the days between, across the year 10000', async () => {
    const result = await cli(['stats', '--by', 'day', '--since', '9999-12-29T00:00:00Z', '--no-color']);
    expect(result.code, result.stderr).toBe(0);
    const days = result.stdout.split('\n').map((line) => /^([+-]?\d{4,6}-\d\d-\d\d)\s/.exec(line)?.[1]).filter((day) => day !== undefined);
    expect(days).toEqual(['9999-12-29', '9999-12-30', '9999-12-31', '+010000-01-01', '+010000-01-02', '+010000-01-03']);
  });

  it('finds a busy day in year 10000 after --since', async () => {
    const result = await cli(['stats', '--since', '9999-12-31T00:00:00Z', '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const busy = (JSON.parse(result.stdout) as { unusual: { busy_days: unknown[] } }).unusual.busy_days;
    expect(busy).toEqual([{ operator: 'busy', day: '+010000-01-03', count: 10, median: 1 }]);
  });
});

describe('doctor', () => {
  type Check = { name: string; status: string; message: string };
  const checksOf = (stdout: string) => (JSON.parse(stdout) as { checks: Check[] }).checks;

  it('an oldest entry after year 9999 is within the retention, not overdue', async () => {
    const result = await cli(['doctor', '--json'], 'future');
    const overdue = checksOf(result.stdout).find((check) => check.name === 'overdue');
    expect(overdue, result.stderr).toMatchObject({ status: 'ok', message: expect.stringContaining('oldest entry +010000-01-02T00:00:00.000000Z is within') });
  });

  it('a checkpoint after year 9999 is past the retention cutoff: usable for prune --only-exported', async () => {
    const checkpoint = join(dir, 'cp.json');
    // Export leaves entries after now for later: a checkpoint written by an export of the other table, its position
    // set where a run in year 10000 would leave it.
    const exported = await cli(['export', '--since', '0000-01-01', '--out', join(dir, 'out.ndjson'), '--checkpoint', checkpoint]);
    expect(exported.code, exported.stderr).toBe(0);
    const written = JSON.parse(await readFile(checkpoint, 'utf8')) as Record<string, unknown>;
    const id = (await schema.query<{ id: string }>(`select id::text from ${schema.table('future')} order by created_at limit 1`)).rows[0]?.id;
    await writeFile(checkpoint, JSON.stringify({ ...written, timestamp: '+010000-01-02T00:00:00.000000Z', id, filters: {} }));
    const result = await cli(['doctor', '--json', '--checkpoint', checkpoint], 'future');
    const checks = checksOf(result.stdout);
    expect(checks.find((check) => check.name === 'only-exported'), result.stderr).toMatchObject({ status: 'ok' });
  });
});
