import { describe, expect, it } from 'vitest';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';
import { NO_FILTERS } from '../../src/queries/filters.js';
import { buildListQuery } from '../../src/queries/list.js';

const db = compileOnlyDb;
const mapping = defaultMapping;

describe('list query', () => {
  it('orders by (timestamp, id) and continues after a cursor with a row comparison, never OFFSET', () => {
    const query = buildListQuery(db, mapping, { filters: NO_FILTERS, order: 'desc', after: { timestamp: '2026-01-01T00:00:00.000001Z', id: '42' } }, 1000).compile();
    expect(query.sql).toContain('from "public"."audit_logs"');
    expect(query.sql).toContain('("created_at", "id") < (cast($1 as timestamptz), cast($2 as bigint))');
    // Qualified: a bare "id" in ORDER BY would mean the `id::text` output column and sort 10 before 9.
    expect(query.sql).toMatch(/order by "public"\."audit_logs"\."created_at" desc, "public"\."audit_logs"\."id" desc limit \$3$/);
    expect(query.sql).not.toMatch(/offset/i);
    expect(query.parameters).toEqual(['2026-01-01T00:00:00.000001Z', '42', 1000]);
  });

  it('binds every filter value as a parameter', () => {
    const hostile = `x'); drop table audit_logs; --`;
    const query = buildListQuery(db, mapping, {
      order: 'asc',
      filters: {
        since: { kind: 'relative', interval: '7 days' },
        operators: [hostile, 'bob'],
        operations: ['DELETE'],
        resources: [{ type: 'route', id: 'r-1' }],
        ips: ['10.0.0.0/8'],
        sources: ['api'],
      },
    }, 50).compile();
    expect(query.sql).not.toContain('drop table');
    expect(query.sql).toContain('"created_at" >= (now() - cast($1 as interval))');
    expect(query.sql).toContain('"operator" in ($2, $3)');
    expect(query.sql).toContain('lower("operation") = $4');
    // route:r-1 is an id here (a name is turned into ids before, by resolveResourceNames): the resource index serves it.
    expect(query.sql).toContain('("resource_type" = $5 and "resource_id" = $6)');
    // An IPv4 block also matches its IPv4-mapped IPv6 form.
    expect(query.sql).toContain('("source_ip" <<= cast($7 as inet) or "source_ip" <<= cast($8 as inet))');
    expect(query.parameters).toEqual(['7 days', hostile, 'bob', 'delete', 'route', 'r-1', '10.0.0.0/8', '::ffff:10.0.0.0/104', 'api', 50]);
  });

  it('reads a timestamp without time zone as UTC and keeps its index usable', () => {
    const local = { ...mapping, columns: { ...mapping.columns, timestamp: { name: 'event_time', type: 'timestamp' } } };
    const query = buildListQuery(db, local, { filters: { ...NO_FILTERS, until: { kind: 'absolute', iso: '2026-01-01T00:00:00Z' } }, order: 'desc' }, 10).compile();
    expect(query.sql).toContain(`"event_time" < (cast($1 as timestamptz) at time zone 'UTC')`);
    // The column as it is, no zone conversion (years outside 1-9999 take the expanded form's branch, af3575c).
    expect(query.sql).toContain(`then to_char("event_time", 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') else`);
    expect(query.sql).not.toContain('"event_time" at time zone');
  });

  it('reads before/after as null when the listing does not print them, and only then', () => {
    const withStates = buildListQuery(db, mapping, { filters: NO_FILTERS, order: 'desc' }, 51).compile().sql;
    expect(withStates).toContain('"before" as "before"');
    expect(withStates).toContain('"after" as "after"');
    const summary = buildListQuery(db, mapping, { filters: NO_FILTERS, order: 'desc', states: false }, 51).compile().sql;
    expect(summary).toContain('null as "before", null as "after"');
    expect(summary).not.toMatch(/"(before|after)" as/);
    expect(summary).toContain('"operator"::text as "operator"');
  });
});
