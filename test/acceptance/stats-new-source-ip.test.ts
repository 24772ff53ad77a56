// `stats`' "new source IP" rule on a table with thousands of operator/IP pairs: the binary's pairs against the rule's
// definition in plain SQL, with filters and bounds; and the statement's plan, which must not walk an operator's
// entries once per pair (67 s for 20,000 pairs on 2M rows did; decisions/010-stats-new-source-ip.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompiledQuery } from 'kysely';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';
import { withDatabase } from '../../src/db/connect.js';
import { resolveMapping } from '../../src/db/mapping.js';
import { parseTimeBound } from '../../src/config/time-bound.js';
import { NO_FILTERS } from '../../src/queries/filters.js';
import { buildNewAddressesQuery } from '../../src/queries/stats.js';

let schema: TestSchema;
const SINCE = '2026-11-01T00:00:00Z';
const UNTIL = '2026-11-20T00:00:00Z';

interface Pair { operator: string; ip: string; first: string; count: number }

beforeAll(async () => {
  schema = await createTestSchema('h43_newip');
  await createDefaultTable(schema);
  // 60,000 entries over 120 days before 2026-12-01 (some after UNTIL), 150 operators with 12 usual addresses each and
  // one entry in eight from anywhere in a /20; nulls, equal timestamps, IPv6 and IPv4-mapped addresses among them.
  await schema.query(`select setseed(0.43)`);
  await schema.query(`
    insert into ${schema.table()} (created_at, operator, operation, source_ip, source, resource_type, resource_id)
    select timestamptz '2026-12-01' - (floor(random() * 120 * 24 * 60) || ' minutes')::interval,
      case when g % 97 = 0 then null else 'op' || (g % 150) end,
      (array['CREATE', 'UPDATE', 'DELETE', 'update'])[1 + g % 4],
      case when g % 89 = 0 then null
           when g % 53 = 0 then ('2001:db8::' || to_hex(g % 40))::inet
           when g % 61 = 0 then ('::ffff:10.9.0.' || (g % 7))::inet
           when random() < 0.125 then '10.1.0.0'::inet + floor(random() * 4096)::int
           else '10.200.0.0'::inet + ((g % 150) * 12 + floor(random() * 12)::int) end,
      (array['dashboard', 'api', 'adc'])[1 + g % 3], 'route', 'r' || (g % 500)
    from generate_series(1, 60000) g`);
  await schema.query(`analyze ${schema.table()}`);
}, 120_000);

afterAll(async () => {
  await schema?.drop();
});

/** The rule in plain SQL: pairs the filters count in the window whose first entry in the whole table is in it. */
async function truth(since: string, until: string | undefined, where = 'true'): Promise<Pair[]> {
  const t = schema.table();
  const result = await schema.query<{ operator: string; ip: string; first: string; n: string }>(`
    select g.operator, host(g.source_ip) as ip, to_char(f.first at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as first, g.n
    from (select operator, source_ip, count(*) as n from ${t}
          where created_at >= $1 and ($2::timestamptz is null or created_at < $2) and operator is not null and source_ip is not null and ${where}
          group by 1, 2) g,
         lateral (select min(created_at) as first from ${t} o where o.operator = g.operator and o.source_ip = g.source_ip) f
    where f.first >= $1`, [since, until ?? null]);
  return result.rows.map((row) => ({ operator: row.operator, ip: row.ip, first: row.first, count: Number(row.n) }));
}

async function binary(args: string[]): Promise<Pair[]> {
  const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--by', 'operator', '--json', ...args]);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { unusual: { new_source_ips: Pair[] } }).unusual.new_source_ips;
}

const key = (pair: Pair) => `${pair.operator}|${pair.ip}|${pair.first}|${pair.count}`;
const sorted = (pairs: Pair[]) => pairs.map(key).sort();

describe('stats: a new source IP is the SQL definition exactly, with thousands of pairs', () => {
  it('bounds, filters that leave out the first use, and the order the binary prints them in', async () => {
    const cases: [string[], () => Promise<Pair[]>][] = [
      [['--since', SINCE, '--until', UNTIL], () => truth(SINCE, UNTIL)],
      [['--since', SINCE], () => truth(SINCE, undefined)],
      [['--since', SINCE, '--until', UNTIL, '--operation', 'delete'], () => truth(SINCE, UNTIL, `lower(operation) = 'delete'`)],
      [['--since', SINCE, '--source', 'api', '--operator', 'op7', '--operator', 'op8'], () => truth(SINCE, undefined, `source = 'api' and operator in ('op7', 'op8')`)],
      [['--since', SINCE, '--until', UNTIL, '--ip', '10.1.0.0/20'], () => truth(SINCE, UNTIL, `source_ip <<= '10.1.0.0/20'`)],
    ];
    for (const [args, expected] of cases) {
      const pairs = await binary(args);
      const want = await expected();
      expect(sorted(pairs), args.join(' ')).toEqual(sorted(want));
      // In order of first use, then operator and address.
      const firsts = pairs.map((pair) => pair.first);
      expect(firsts, args.join(' ')).toEqual([...firsts].sort());
    }
    // Enough to matter: hundreds of new pairs, and old pairs the rule must not report.
    const all = await truth(SINCE, UNTIL);
    expect(all.length).toBeGreaterThan(500);
    const inWindow = await schema.query<{ n: string }>(`select count(distinct (operator, source_ip)) as n from ${schema.table()} where created_at >= $1 and created_at < $2`, [SINCE, UNTIL]);
    expect(Number(inWindow.rows[0]?.n)).toBeGreaterThan(all.length + 1000);
  }, 120_000);

  it('the same without an index on the address (the probe then goes through the operator index)', async () => {
    const plain = schema.table('no_ip_index');
    await schema.query(`create table ${plain} as select * from ${schema.table()}`);
    await schema.query(`create index on ${plain} (created_at, id)`);
    await schema.query(`create index on ${plain} (operator, created_at, id)`);
    await schema.query(`analyze ${plain}`);
    const result = await spawnCli(['--db', databaseUrl(), '--table', plain, 'stats', '--by', 'operator', '--json', '--since', SINCE, '--until', UNTIL, '--source', 'adc']);
    expect(result.code, result.stderr).toBe(0);
    const pairs = (JSON.parse(result.stdout) as { unusual: { new_source_ips: Pair[] } }).unusual.new_source_ips;
    expect(sorted(pairs)).toEqual(sorted(await truth(SINCE, UNTIL, `source = 'adc'`)));
    expect(pairs.length).toBeGreaterThan(100);
  }, 120_000);

  it.skipIf(isEmbedded())("is planned without a probe of the operator's entries per pair", async () => {
    const target = { url: databaseUrl(), libpq: {}, source: '--db' as const };
    const plan = await withDatabase({ target, connectTimeoutMs: 10_000 }, async (db) => {
      const mapping = await resolveMapping(db, schema.table(), {});
      const query = buildNewAddressesQuery(mapping, { ...NO_FILTERS, since: parseTimeBound('--since', SINCE), until: parseTimeBound('--until', UNTIL) });
      const compiled = (query as NonNullable<typeof query>).compile(db);
      const explained = await db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${compiled.sql}`, [...compiled.parameters]));
      return explained.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    // The old statement ANDed or scanned audit_logs_operator_created_at_idx with `operator = g.k` once per pair.
    expect(plan).not.toMatch(/operator_created_at_idx/);
    expect(plan).not.toMatch(/BitmapAnd/);
  }, 60_000);
});
