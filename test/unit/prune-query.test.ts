import { describe, expect, it } from 'vitest';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import { boundConditions, buildBatchDeleteQuery, buildBatchRangeQuery } from '../../src/queries/prune.js';

const db = compileOnlyDb;
const mapping = defaultMapping;
const CUTOFF = '2026-01-01T00:00:00.000000Z';
const FROM = { timestamp: '2025-11-01T00:00:00.000001Z', id: '41' };
const END = { timestamp: '2025-11-02T00:00:00.000002Z', id: '5041' };

describe('prune batch range query', () => {
  it('walks the (timestamp, id) index forward from the previous batch, bounded by the cutoff', () => {
    const query = buildBatchRangeQuery(db, mapping, { before: CUTOFF }, FROM, 5000).compile();
    expect(query.sql).toContain('"created_at" < cast($1 as timestamptz)');
    // The plain range keeps the planner on the (timestamp, id) index; the row comparison makes it exact.
    expect(query.sql).toContain('"created_at" >= cast($2 as timestamptz)');
    expect(query.sql).toContain('("created_at", "id") > (cast($3 as timestamptz), cast($4 as bigint))');
    expect(query.sql).toMatch(/order by "created_at", "id" limit \$5\) as "batch"/);
    // Qualified: a bare "id" would sort the text output column, putting 60 after 180.
    expect(query.sql).toMatch(/order by "batch"\."created_at" desc, "batch"\."id" desc limit \$6$/);
    expect(query.sql).toContain('min("created_at") over ()');
    expect(query.parameters).toEqual([CUTOFF, FROM.timestamp, FROM.timestamp, FROM.id, 5000, 1]);
  });

  it('starts at the beginning of the index on the first batch', () => {
    const query = buildBatchRangeQuery(db, mapping, { before: CUTOFF }, undefined, 100).compile();
    expect(query.sql).not.toContain(') > (');
    expect(query.parameters).toEqual([CUTOFF, 100, 1]);
  });
});

describe('prune batch delete', () => {
  it('deletes by row address found through the ordered index, re-checking the cutoff and the range on every row', () => {
    const query = buildBatchDeleteQuery(db, mapping, { before: CUTOFF }, FROM, { start: FROM.timestamp, end: END }, 5000).compile();
    expect(query.sql).toMatch(/^delete from "public"\."audit_logs" where ctid = any\(array\(\(select ctid as "ctid" from "public"\."audit_logs" where /);
    expect(query.sql).toMatch(/order by "created_at", "id" limit \$\d+\)\)\) and \(/);
    const recheck = query.sql.slice(query.sql.indexOf('))) and ('));
    expect(recheck).toContain('"created_at" < cast(');
    expect(recheck).toContain('("created_at", "id") > (cast(');
    expect(recheck).toContain('("created_at", "id") <= (cast(');
    expect(query.parameters.filter((p) => p === CUTOFF)).toHaveLength(2);
    expect(query.parameters).toContain(END.id);
    expect(query.sql).not.toContain(CUTOFF);
  });
});

describe('prune bound', () => {
  it('takes an extra (timestamp, id) upper bound, such as an export checkpoint', () => {
    const conditions = boundConditions(mapping, { before: CUTOFF, upTo: { timestamp: '2025-12-01T00:00:00.000000Z', id: '99' } });
    const query = db.selectFrom('t').selectAll().where(conditions[0]!).where(conditions[1]!).where(conditions[2]!).compile();
    expect(query.sql).toContain('"created_at" <= cast($2 as timestamptz)');
    expect(query.sql).toContain('("created_at", "id") <= (cast($3 as timestamptz), cast($4 as bigint))');
    expect(query.parameters).toEqual([CUTOFF, '2025-12-01T00:00:00.000000Z', '2025-12-01T00:00:00.000000Z', '99']);
  });

  it('compares a timestamp-without-time-zone column in UTC', () => {
    const local: ResolvedMapping = { ...mapping, columns: { ...mapping.columns, timestamp: { name: 'ts', type: 'timestamp' } } };
    const [condition] = boundConditions(local, { before: CUTOFF });
    const query = db.selectFrom('t').selectAll().where(condition!).compile();
    expect(query.sql).toContain(`"ts" < (cast($1 as timestamptz) at time zone 'UTC')`);
  });
});
