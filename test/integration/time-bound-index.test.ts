import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import type { EntryFilters } from '../../src/domain.js';
import { allOf, filterConditions, NO_FILTERS } from '../../src/queries/filters.js';
import { buildListQuery } from '../../src/queries/list.js';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';
import { createTestSchema, type TestSchema } from '../support/database.js';

// H40: --since/--until on a local-time or float8/numeric epoch timestamp compare the instant, and the raw column's
// index still serves them: EXPLAIN shows an index range on the raw column (its Index Cond), not a sequential scan.

interface PlanNode {
  'Node Type': string;
  'Index Cond'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

let schema: TestSchema;
const LAYOUTS = [
  { name: 'local', type: 'timestamp', column: { timeZone: 'Europe/Berlin' }, values: `timestamp '2026-09-20 00:00' + g * interval '1 minute'` },
  { name: 'float8', type: 'float8', column: { epoch: 'seconds' }, values: `1789862400.1234567 + g * 60.0000003` },
  { name: 'numeric', type: 'numeric', column: { epoch: 'milliseconds' }, values: `1789862400123.4567 + g * 60000.0003` },
] as const;
// 2026-09-20T00:00Z plus 60,000 minutes: the last entry is at about 2026-11-01T16:00Z; one hour before the end, and one
// whole day at the start, across the autumn change in the local layout's zone.
const LAST_HOUR: Partial<EntryFilters> = { since: { kind: 'absolute', iso: '2026-11-01T15:00:00Z' } };
const FIRST_DAY: Partial<EntryFilters> = { until: { kind: 'absolute', iso: '2026-09-21T00:00:00Z' } };
// 00:30Z is 02:30 in Berlin's first 02:00-02:59 that night; PostgreSQL reads a stored 02:10 as the second (01:10Z).
const AUTUMN_NIGHT: Partial<EntryFilters> = { since: { kind: 'absolute', iso: '2026-10-25T00:30:00Z' }, until: { kind: 'absolute', iso: '2026-10-25T01:15:00Z' } };
// The epoch layouts' third entry is 180.1234576 s in: it prints (and is) at .123458, after its raw value.
const AT_THIRD: Partial<EntryFilters>[] = [{ since: { kind: 'absolute', iso: '2026-09-20T00:03:00.123458Z' } }, { until: { kind: 'absolute', iso: '2026-09-20T00:03:00.123458Z' } }];
const RECENT: Partial<EntryFilters> = { since: { kind: 'relative', interval: '2 hours' } };

beforeAll(async () => {
  schema = await createTestSchema('time_bound_index');
  for (const layout of LAYOUTS) {
    const table = schema.table(layout.name);
    await schema.query(`create table ${table} (id bigint primary key, ts ${layout.type} not null, operator text, operation text,
      resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
    await schema.query(`insert into ${table} (id, ts, operator) select g, ${layout.values}, 'op' from generate_series(1, 60000) g`);
    // The (timestamp, id) index on the raw column, as examples/schema.sql has it; none on the instant.
    await schema.query(`create index on ${table} (ts, id)`);
    await schema.query(`analyze ${table}`);
  }
});
afterAll(() => schema.drop());

function mappingOf(layout: (typeof LAYOUTS)[number]): ResolvedMapping {
  return {
    ...defaultMapping,
    table: { schema: schema.name, name: layout.name },
    columns: { ...defaultMapping.columns, timestamp: { name: 'ts', type: layout.type, ...layout.column } },
  };
}

async function explain(query: { compile(): { sql: string; parameters: readonly unknown[] } }): Promise<PlanNode> {
  const compiled = query.compile();
  const result = await schema.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`explain (format json) ${compiled.sql}`, [...compiled.parameters]);
  return (result.rows[0]?.['QUERY PLAN'][0] as { Plan: PlanNode }).Plan;
}

/** The statement a filter reads with (as stats and prune's counts do), and list's page. */
function statements(mapping: ResolvedMapping, filters: Partial<EntryFilters>) {
  const all = { ...NO_FILTERS, ...filters };
  return [
    compileOnlyDb.selectFrom(`${schema.name}.${mapping.table.name}`).select(sql`1`.as('one')).where(allOf(filterConditions(mapping, all))),
    buildListQuery(compileOnlyDb, mapping, { filters: all, order: 'desc' }, 51),
  ];
}

describe.each(LAYOUTS)('$name timestamp with an index on the raw column only', (layout) => {
  it.each([
    ['--since, the last hour', LAST_HOUR],
    ['--until, the first day', FIRST_DAY],
    ['--since and --until across the autumn change', AUTUMN_NIGHT],
    ['--since 2h (relative)', RECENT],
  ])('%s: an index range on the raw column', async (_label, filters) => {
    for (const statement of statements(mappingOf(layout), filters)) {
      const plan = nodes(await explain(statement));
      expect(plan.map((node) => node['Node Type'])).not.toContain('Seq Scan');
      const ranges = plan.filter((node) => /\(?ts\b.*[<>]=?/.test(node['Index Cond'] ?? ''));
      expect(ranges.length, JSON.stringify(plan.map((node) => [node['Node Type'], node['Index Cond']]))).toBeGreaterThan(0);
    }
  });

  it('the entries are the instant range exactly (the same question asked in SQL)', async () => {
    const mapping = mappingOf(layout);
    const instant = layout.name === 'local' ? `(ts at time zone 'Europe/Berlin')` : layout.name === 'float8' ? 'to_timestamp(ts)' : 'to_timestamp(ts / 1000.0)';
    for (const filters of [LAST_HOUR, FIRST_DAY, AUTUMN_NIGHT, ...AT_THIRD]) {
      const compiled = compileOnlyDb.selectFrom(`${schema.name}.${layout.name}`).select(sql<string>`id::text`.as('id'))
        .where(allOf(filterConditions(mapping, { ...NO_FILTERS, ...filters }))).orderBy('id').compile();
      const got = (await schema.query<{ id: string }>(compiled.sql, [...compiled.parameters])).rows.map((row) => row.id);
      const conditions = [filters.since && `${instant} >= '${(filters.since as { iso: string }).iso}'`, filters.until && `${instant} < '${(filters.until as { iso: string }).iso}'`].filter(Boolean);
      const truth = (await schema.query<{ id: string }>(`select id::text as id from ${schema.table(layout.name)} where ${conditions.join(' and ')} order by id`)).rows.map((row) => row.id);
      expect(got).toEqual(truth);
    }
  });
});
