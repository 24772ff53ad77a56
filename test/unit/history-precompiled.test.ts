import { describe, expect, it } from 'vitest';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';
import { catalogQuery } from '../../src/db/catalog.js';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import { compileHistoryStatements } from '../../src/queries/history-compile.js';
import { bindStatement, fitsMapping, type PrecompiledStatement } from '../../src/queries/history-precompiled.js';
import { buildFirstEntry, buildFirstStateEntry, buildHistoryPage, buildIdForName } from '../../src/queries/history.js';
import { NO_FILTERS } from '../../src/queries/filters.js';

// history's precompiled statements (the binary's, compiled at build time) must be, once bound, what Kysely's builders
// compile at run time for the same table and values: the text and the parameters.
const TABLES = [
  { schema: 'public', name: 'audit_logs' },
  { schema: 'Audit "quoted"', name: 'Logs-2026 $x' },
  { schema: 'prüfung', name: '監査ログ' },
];
const RESOURCE = { type: 'route', id: "r-1'; drop table audit_logs; --" };

describe('history precompiled statements', async () => {
  const statements = await compileHistoryStatements();
  const expectSame = (statement: PrecompiledStatement, values: Parameters<typeof bindStatement>[1], table: ResolvedMapping['table'] | undefined, query: { compile(): { sql: string; parameters: readonly unknown[] } }) => {
    const expected = query.compile();
    expect(bindStatement(statement, values, table)).toEqual({ text: expected.sql, values: [...expected.parameters] });
  };

  it.each(TABLES)('bind to what Kysely compiles for the table %j', (table) => {
    const mapping = { ...defaultMapping, table };
    const values = { type: RESOURCE.type, id: RESOURCE.id };
    for (const order of ['asc', 'desc'] as const) {
      expectSame(statements.page[order].first, values, table, buildHistoryPage(compileOnlyDb, mapping, RESOURCE, NO_FILTERS, order));
      const after = { timestamp: '2026-01-02T03:04:05.123456Z', id: '42' };
      expectSame(statements.page[order].after, { ...values, timestamp: after.timestamp, afterId: after.id }, table, buildHistoryPage(compileOnlyDb, mapping, RESOURCE, NO_FILTERS, order, after));
    }
    expectSame(statements.firstEntry, values, table, buildFirstEntry(compileOnlyDb, mapping, RESOURCE));
    expectSame(statements.firstStateEntry, values, table, buildFirstStateEntry(compileOnlyDb, mapping, RESOURCE));
    expectSame(statements.idForName, { type: 'route', resourceName: 'billing-webhook' }, table, buildIdForName(compileOnlyDb, mapping, 'route', 'billing-webhook')!);
    expectSame(statements.catalog.qualified, { schema: table.schema, name: table.name }, undefined, { compile: () => catalogQuery(table).compile(compileOnlyDb) });
    expectSame(statements.catalog.unqualified, { name: table.name }, undefined, { compile: () => catalogQuery({ name: table.name }).compile(compileOnlyDb) });
  });

  it('fit the default layout only', () => {
    expect(fitsMapping(statements, defaultMapping)).toBe(true);
    const other = (column: Partial<ResolvedMapping['columns']>) => ({ ...defaultMapping, columns: { ...defaultMapping.columns, ...column } });
    expect(fitsMapping(statements, other({ before: { name: 'before', type: 'text' } }))).toBe(false);
    expect(fitsMapping(statements, other({ timestamp: { name: 'ts', type: 'timestamptz' } }))).toBe(false);
    expect(fitsMapping(statements, other({ timestamp: { name: 'created_at', type: 'int8', epoch: 'seconds' } }))).toBe(false);
    expect(fitsMapping(statements, other({ source: { name: 'lower(source)', type: 'text', expression: 'lower(source)' } }))).toBe(false);
    expect(fitsMapping(statements, other({ resource_name: undefined }))).toBe(false);
  });

  it('refuse a statement with a slot left unfilled', () => {
    expect(() => bindStatement(statements.firstEntry, { type: 'route' })).toThrow(/no value for id/);
  });
});
