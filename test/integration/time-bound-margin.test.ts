import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type RawBuilder } from 'kysely';
import { instantBoundCondition, instantOf } from '../../src/db/entry-columns.js';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';
import { createTestSchema, type TestSchema } from '../support/database.js';

// H40: --since/--until on a column keyedByInstant compare the instant exactly and keep a widened raw range so the
// column's index serves them. The widened range must never leave out a raw value the instant takes in: tried here
// against PostgreSQL's own time zone database, every zone, around every change of 2 hours or more since 1840 and
// every change in 2026, with bounds on and near each entry's instant; POSIX rules, some with offsets days apart.

let schema: TestSchema;
beforeAll(async () => {
  schema = await createTestSchema('time_bound_margin');
});
afterAll(() => schema.drop());

const mappingFor = (timestamp: Record<string, string>): ResolvedMapping => ({
  ...defaultMapping,
  columns: { ...defaultMapping.columns, timestamp: { name: 'raw', type: 'timestamp', ...timestamp } },
});

/** Rows of `(raw, b)` where the tool's condition and the instant disagree, for `>=` and for `<`. */
function disagreements(mapping: ResolvedMapping, pairs: RawBuilder<unknown>): RawBuilder<{ since: string; until: string; example: string | null }> {
  const bound = sql.ref('b');
  const instant = instantOf(mapping);
  const since = sql`${instantBoundCondition(mapping, '>=', bound)} is distinct from (${instant} >= ${bound})`;
  const until = sql`${instantBoundCondition(mapping, '<', bound)} is distinct from (${instant} < ${bound})`;
  return sql`select count(*) filter (where ${since}) as since, count(*) filter (where ${until}) as until,
    min(raw::text || ' / ' || b::text) filter (where ${since} or ${until}) as example from (${pairs}) p`;
}

async function run<R>(query: RawBuilder<R>): Promise<R> {
  const compiled = query.compile(compileOnlyDb);
  return (await schema.query(compiled.sql, [...compiled.parameters])).rows[0] as R;
}

describe('a local-time column: the widened raw range holds every entry the instant bound takes', () => {
  it('every zone, around each change of 2 h or more (1840-2040) and each change in 2026', { timeout: 300_000 }, async () => {
    await schema.query(`set statement_timeout = '120s'`);
    // Weeks in which a zone's offset changes, then the hour of the change in that week.
    const changes = await schema.query<{ name: string; at: string[] }>(`
      with z as (select name from pg_timezone_names where name !~ '^(posix|right)/'),
      w as (select g as t from generate_series(timestamptz '1840-01-01', timestamptz '2040-01-01', interval '7 days') g),
      weeks as (
        select name, t, abs(extract(epoch from ((t + interval '168 hours') at time zone name) - (t at time zone name)) - 604800) as jump
        from z, w where ((t + interval '168 hours') at time zone name) - (t at time zone name) <> interval '168 hours'
      )
      select name, array_agg(to_char(h at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) as at from (
        select distinct name, t + make_interval(hours => k) as h from weeks, generate_series(0, 167) k
        where (jump >= 7200 or extract(year from t) = 2026)
          and ((t + make_interval(hours => k + 1)) at time zone name) - ((t + make_interval(hours => k)) at time zone name) <> interval '1 hour'
      ) c group by name`);
    // The day-line jumps (Pacific/Apia 2011, Pacific/Kwajalein 1993, America/Sitka 1867) and ordinary DST are all in.
    const names = changes.rows.map((row) => row.name);
    expect(names).toEqual(expect.arrayContaining(['Pacific/Apia', 'Pacific/Kwajalein', 'America/Sitka', 'Europe/Berlin', 'Australia/Lord_Howe']));
    expect(changes.rows.length).toBeGreaterThan(200);
    const failures: string[] = [];
    for (const { name, at } of changes.rows) {
      const mapping = mappingFor({ timeZone: name });
      const zone = sql.lit(name);
      // Local times every 30 minutes for 26 h either side of each change; bounds on each one's instant, 1 µs after
      // it, and an hour either side.
      const pairs = sql`select raw, b from (
          select distinct (cast(c as timestamptz) at time zone ${zone}) + k * interval '30 minutes' as raw
          from unnest(cast(${at} as text[])) c, generate_series(-52, 52) k) r,
        lateral (select (raw at time zone ${zone}) + j * interval '1 hour' as b from generate_series(-1, 1) j
                 union all select (raw at time zone ${zone}) + interval '1 microsecond') x`;
      const result = await run(disagreements(mapping, pairs));
      if (Number(result.since) + Number(result.until) > 0) failures.push(`${name}: ${result.since} >=, ${result.until} <, e.g. ${result.example}`);
    }
    expect(failures).toEqual([]);
  });

  it('POSIX zone rules as PostgreSQL reads them, DST changes of 30 min to 2 h', { timeout: 60_000 }, async () => {
    const zones = ['CET-1CEST,M3.5.0,M10.5.0/3', 'EST5EDT,M3.2.0,M11.1.0', '<+1030>-10:30<+11>-11,M10.1.0,M4.1.0', 'AAA-1BBB-3,M3.5.0,M10.5.0', 'UTC+12'];
    for (const zone of zones) {
      // The weeks of both changes in either hemisphere, every 30 minutes.
      const pairs = sql`select raw, b from (select generate_series(timestamp '2026-03-05', timestamp '2026-04-10', interval '30 minutes') as raw
          union all select generate_series(timestamp '2026-09-28', timestamp '2026-11-05', interval '30 minutes')) r,
        lateral (select (raw at time zone ${sql.lit(zone)}) + j * interval '1 hour' as b from generate_series(-1, 1) j
                 union all select (raw at time zone ${sql.lit(zone)}) + interval '1 microsecond') x`;
      expect(await run(disagreements(mappingFor({ timeZone: zone }), pairs)), zone).toMatchObject({ since: '0', until: '0' });
    }
  });

  it('POSIX zones whose two offsets are more than a day apart (the config file takes AAA-14BBB+12), bounds up to 15 days away', { timeout: 120_000 }, async () => {
    // No rule given: PostgreSQL applies the US one (March and November), a jump of 26 h, or of 334 h.
    for (const zone of ['AAA-14BBB+12', 'AAA+12BBB-14', 'AAA-167BBB+167']) {
      const pairs = sql`select raw, b from (select generate_series(timestamp '2026-03-01', timestamp '2026-03-20', interval '2 hours') as raw
          union all select generate_series(timestamp '2026-10-25', timestamp '2026-11-12', interval '2 hours')) r,
        lateral (select (raw at time zone ${sql.lit(zone)}) + j * interval '1 hour' as b from generate_series(-364, 364, 13) j) x`;
      expect(await run(disagreements(mappingFor({ timeZone: zone }), pairs)), zone).toMatchObject({ since: '0', until: '0' });
    }
  });
});

describe('an epoch column: the widened raw range holds every entry the instant bound takes', () => {
  it.each([
    ['float8', 'seconds', '1772323200.1234567', 0.0000001],
    ['float8', 'milliseconds', '1772323200123.4567', 0.0001],
    ['numeric', 'seconds', '1772323200.1234567', 0.0000001],
    ['numeric', 'milliseconds', '1772323200123.4567', 0.0001],
  ] as const)('%s %s, raw values a tenth of a microsecond apart, bounds at each microsecond near them', async (type, epoch, start, step) => {
    const mapping: ResolvedMapping = { ...defaultMapping, columns: { ...defaultMapping.columns, timestamp: { name: 'raw', type, epoch } } };
    const pairs = sql`select raw, b from (select cast(${sql.lit(start)} as ${sql.raw(type === 'float8' ? 'float8' : 'numeric')}) + g * ${sql.lit(step)} as raw from generate_series(0, 400) g) r,
      lateral (select ${instantOf(mapping)} + j * interval '1 microsecond' as b from generate_series(-3, 3) j) x`;
    expect(await run(disagreements(mapping, pairs))).toMatchObject({ since: '0', until: '0' });
  });
});
