import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';
import { allOf, filterConditions, NO_FILTERS } from '../../src/queries/filters.js';
import { unknownFilterWarnings } from '../../src/config/known-values.js';
import type { EntryFilters } from '../../src/domain.js';

const compile = (filters: Partial<EntryFilters>) => sql`select 1 where ${allOf(filterConditions(defaultMapping, { ...NO_FILTERS, ...filters }))}`.compile(compileOnlyDb);

describe('enumerated filters', () => {
  it('--source API matches as api is stored (index-friendly), an unknown value case-insensitively', () => {
    const query = compile({ sources: ['API', 'Foo'] });
    expect(query.sql).toContain('("source" = $1 or lower("source") = $2)');
    expect(query.parameters).toEqual(['api', 'foo']);
  });

  it('--resource ROUTE:x is the route with id x, one condition the (type, id, time) index serves', () => {
    const query = compile({ resources: [{ type: 'ROUTE', id: 'orders' }] });
    expect(query.sql).toContain('("resource_type" = $1 and "resource_id" = $2)');
    expect(query.sql).not.toContain('resource_name');
    expect(query.parameters).toEqual(['route', 'orders']);
  });

  it('a name resolved to ids matches those ids, and a name no entry has matches nothing', () => {
    const named = compile({ resources: [{ type: 'route', id: 'orders', ids: ['r-1', 'r-2'] }] });
    expect(named.sql).toContain('("resource_type" = $1 and "resource_id" in ($2, $3))');
    expect(named.parameters).toEqual(['route', 'r-1', 'r-2']);
    expect(compile({ resources: [{ type: 'route', id: 'nothing', ids: [] }] }).sql).toContain('(false)');
  });

  it('warns about each value outside the known set, listing the known values', () => {
    const warnings = unknownFilterWarnings({ ...NO_FILTERS, sources: ['API', 'foo'], operations: ['delete', 'frobnicate'], resources: [{ type: 'Route' }, { type: 'routes' }] });
    expect(warnings).toEqual([
      "warning: --source 'foo' is not one of the known values (dashboard, api, adc); filtering on it anyway",
      expect.stringContaining("--operation 'frobnicate' is not one of the known values (CREATE, UPDATE"),
      expect.stringContaining("--resource 'routes' is not one of the known values (route, service"),
    ]);
  });
});
