import { describe, expect, it } from 'vitest';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import { boundConditions, buildBatchDeleteQuery } from '../../src/queries/prune.js';

const db = compileOnlyDb;
const mapping = defaultMapping;
const CUTOFF = '2026-01-01T00:00:00.000000Z';
const FROM = { timestamp: '2025-11-01T00:00:00.000001Z', id: '41' };

describe('prune batch delete', () => {
  const compile = (archive: boolean, from: typeof FROM | null = FROM) => buildBatchDeleteQuery(mapping, { before: CUTOFF }, from ?? undefined, 5000, archive).compile(db);

  it('finds where the batch ends on the (timestamp, id) index forward from the previous batch, in one statement', () => {
    const query = compile(false);
    const last = query.sql.slice(0, query.sql.indexOf('), deleted as'));
    expect(last).toContain('with last as (');
    expect(last).toContain('"created_at" < cast($1 as timestamptz)');
    // The plain range keeps the planner on the (timestamp, id) index; the row comparison makes it exact.
    expect(last).toContain('"created_at" >= cast($2 as timestamptz)');
    expect(last).toContain('("created_at", "id") > (cast($3 as timestamptz), cast($4 as bigint))');
    // Only indexed columns: an index-only scan.
    expect(last).toMatch(/\(select "created_at", "id" from "public"\."audit_logs" where .* order by "created_at", "id" limit \$5\) as batch\s*order by "created_at" desc, "id" desc limit 1\s*$/);
    expect(query.parameters.slice(0, 5)).toEqual([CUTOFF, FROM.timestamp, FROM.timestamp, FROM.id, 5000]);
  });

  it('deletes the range from the previous position to the batch end, re-checking the cutoff on every row', () => {
    const query = compile(false);
    const deleted = query.sql.slice(query.sql.indexOf('deleted as ('));
    expect(deleted).toMatch(/^deleted as \(\s*delete from "public"\."audit_logs" where \(/);
    expect(deleted).not.toContain('ctid');
    expect(deleted).toContain('"created_at" < cast(');
    expect(deleted).toContain('"created_at" >= cast(');
    expect(deleted).toContain('("created_at", "id") > (cast(');
    expect(deleted).toContain('"created_at" <= (select "created_at" from last)');
    expect(deleted).toContain('("created_at", "id") <= (select "created_at", "id" from last)');
    expect(query.parameters.filter((p) => p === CUTOFF)).toHaveLength(2);
    expect(query.sql).not.toContain(CUTOFF);
    expect(query.sql).toMatch(/select count\(\*\) from deleted\)::int as deleted from last$/);
  });

  it('returns the JSON of every deleted entry when archiving, and the batch end even when none was deleted', () => {
    const query = compile(true);
    // The entry's JSON, with the line separators that some readers split on escaped (entryJsonExpression).
    expect(query.sql).toMatch(/returning (replace\()*json_build_object\(/);
    expect(query.sql).toMatch(/deleted\.json from last left join deleted on true$/);
  });

  it('starts at the beginning of the index on the first batch', () => {
    const query = compile(false, null);
    expect(query.sql).not.toContain(') > (');
    expect(query.parameters).toEqual([CUTOFF, 5000, CUTOFF]);
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
