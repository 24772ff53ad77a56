import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type CompiledQuery } from 'kysely';
import type { Db } from '../db/connect.js';
import { catalogQuery } from '../db/catalog.js';
import { DEFAULT_COLUMNS, resolveMappingFrom } from '../db/mapping.js';
import { CANONICAL_FIELDS, type CanonicalField } from '../domain.js';
import { buildFirstEntry, buildFirstStateEntry, buildHistoryPage, buildIdForName } from './history.js';
import { slot, STAND_IN_TABLE, type HistoryStatements, type PrecompiledStatement, type SlotName } from './history-precompiled.js';
import { NO_FILTERS } from './filters.js';
import { PAGE_SIZE } from './list.js';

/** examples/schema.sql's column types; the other columns are text. */
const DEFAULT_LAYOUT_TYPES: Partial<Record<CanonicalField, string>> = { id: 'int8', timestamp: 'timestamptz', source_ip: 'inet', before: 'jsonb', after: 'jsonb' };

/** A Kysely instance that compiles PostgreSQL and never connects. */
const compileOnly: Db = new Kysely({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/**
 * history's statements for the default layout, compiled by Kysely from history.ts's own builders with slots for
 * the run-time values (history-precompiled.ts). Run by the build (scripts/build.mjs), and on first use by a
 * process running from src/ (the tests). Throws when a statement would not bind as history-precompiled.ts binds it.
 */
export async function compileHistoryStatements(): Promise<HistoryStatements> {
  const rows = CANONICAL_FIELDS.map((field) => ({ ...STAND_IN_TABLE, relkind: 'r', column: DEFAULT_COLUMNS[field], type: DEFAULT_LAYOUT_TYPES[field] ?? 'text' }));
  const mapping = await resolveMappingFrom(rows, `${STAND_IN_TABLE.schema}.${STAND_IN_TABLE.name}`, {}, () => Promise.reject(new Error('the default layout needs no query')));
  const resource = { type: slot('type'), id: slot('id') };
  const after = { timestamp: slot('timestamp'), id: slot('afterId') };
  const page = (order: 'asc' | 'desc') => ({
    first: compile(buildHistoryPage(compileOnly, mapping, resource, NO_FILTERS, order), ['type', 'id']),
    after: compile(buildHistoryPage(compileOnly, mapping, resource, NO_FILTERS, order, after), ['type', 'id', 'timestamp', 'afterId']),
  });
  const idForName = buildIdForName(compileOnly, mapping, slot('type'), slot('resourceName'));
  if (!idForName) throw new Error('the default layout maps resource_name');
  return {
    columns: mapping.columns,
    pageSize: PAGE_SIZE,
    catalog: {
      qualified: compile(catalogQuery({ schema: slot('schema'), name: slot('name') }).compile(compileOnly), ['schema', 'name']),
      unqualified: compile(catalogQuery({ name: slot('name') }).compile(compileOnly), ['name']),
    },
    page: { asc: page('asc'), desc: page('desc') },
    firstEntry: compile(buildFirstEntry(compileOnly, mapping, resource), ['type', 'id']),
    firstStateEntry: compile(buildFirstStateEntry(compileOnly, mapping, resource), ['type', 'id']),
    idForName: compile(idForName, ['type', 'resourceName']),
  };
}

/** The compiled text and parameters; each slot must be a parameter as it is, and the stand-in table only quoted. */
function compile(query: { compile(): CompiledQuery } | CompiledQuery, slots: SlotName[]): PrecompiledStatement {
  const { sql, parameters } = 'compile' in query ? query.compile() : query;
  for (const name of slots) {
    if (!parameters.includes(slot(name))) throw new Error(`precompiled statement: the value of ${name} is not a parameter as it is: ${sql}`);
  }
  const unquoted = sql.replaceAll(`"${STAND_IN_TABLE.schema}"."${STAND_IN_TABLE.name}"`, '');
  if (unquoted.includes(STAND_IN_TABLE.schema) || unquoted.includes(STAND_IN_TABLE.name) || sql.includes('\u0000')) {
    throw new Error(`precompiled statement: the table or a value is in the text other than as a quoted "schema"."table": ${sql}`);
  }
  return { sql, parameters: [...parameters] };
}
