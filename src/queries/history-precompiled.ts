import type { PoolClient } from 'pg';
import type { AuditEntry, Position } from '../domain.js';
import type { CatalogColumn } from '../db/catalog.js';
import type { ResolvedMapping } from '../db/mapping.js';
import type { TableName } from '../db/identifiers.js';
import type { SortOrder } from './list.js';

// history's statements as Kysely compiled them (history-compile.ts), run without loading Kysely: at build time for
// the bundle (scripts/build.mjs), on first use otherwise. Kysely's 215 KB were a fifth of history's start-up
// (docs/decisions/007). They are compiled for the default layout (examples/schema.sql) under a stand-in table name;
// any other layout, and the modes and filters not compiled here, take Kysely's builders (history.ts) as before.

/** One resource, as `TYPE:ID` names it. */
export interface ResourceKey {
  type: string;
  id: string;
}

/** Operations that end a resource even when their entry holds no state. */
export const DELETE_OPERATION = /^(delete|remove)$/i;

/**
 * An entry that tells what the resource became: it holds a state (`before` or `after`), or it deleted the resource.
 * The same test as history.ts's `tellsState`, on an entry already read.
 */
export function entryTellsState(entry: AuditEntry): boolean {
  return (entry.before !== null && entry.before !== undefined) || (entry.after !== null && entry.after !== undefined) || DELETE_OPERATION.test(entry.operation ?? '');
}

/** A statement's SQL text and parameters as Kysely compiled them; a parameter that is a {@link slot} takes a value at run time. */
export interface PrecompiledStatement {
  sql: string;
  parameters: readonly unknown[];
}

export interface HistoryStatements {
  /** The mapping's columns the statements were compiled for: the default layout's, as resolveMapping resolves them. */
  columns: ResolvedMapping['columns'];
  /** history.ts's page size (list.ts's PAGE_SIZE). */
  pageSize: number;
  /** catalog.ts's catalogQuery, for a schema-qualified table name and for a bare one. */
  catalog: { qualified: PrecompiledStatement; unqualified: PrecompiledStatement };
  /** buildHistoryPage without filters: the first page, and a page after a position. */
  page: Record<SortOrder, { first: PrecompiledStatement; after: PrecompiledStatement }>;
  firstEntry: PrecompiledStatement;
  firstStateEntry: PrecompiledStatement;
  idForName: PrecompiledStatement;
}

/** The table the statements are compiled for, replaced by the real one (quoted as Kysely quotes it) when they run. */
export const STAND_IN_TABLE = { schema: 'api7_audit_precompiled_schema', name: 'api7_audit_precompiled_table' } as const;

const SLOT = '\u0000api7-audit-slot:';
export type SlotName = 'schema' | 'name' | 'type' | 'id' | 'resourceName' | 'timestamp' | 'afterId';

/** The value compiled in place of a run-time value: no value the tool passes begins with NUL. */
export const slot = (name: SlotName): string => `${SLOT}${name}`;

/** Kysely's PostgreSQL identifier quoting (PostgresQueryCompiler's sanitizeIdentifier): always quoted, `"` doubled. */
const quoteLikeKysely = (name: string) => `"${name.replaceAll('"', '""')}"`;
const STAND_IN_SQL = `${quoteLikeKysely(STAND_IN_TABLE.schema)}.${quoteLikeKysely(STAND_IN_TABLE.name)}`;

/** The statement's text for `table` and its parameters with the slots filled. */
export function bindStatement(statement: PrecompiledStatement, values: Partial<Record<SlotName, unknown>>, table?: Required<TableName>): { text: string; values: unknown[] } {
  const text = table ? statement.sql.split(STAND_IN_SQL).join(`${quoteLikeKysely(table.schema)}.${quoteLikeKysely(table.name)}`) : statement.sql;
  const bound = statement.parameters.map((parameter) => {
    if (typeof parameter !== 'string' || !parameter.startsWith(SLOT)) return parameter;
    const name = parameter.slice(SLOT.length) as SlotName;
    if (!(name in values)) throw new Error(`precompiled statement: no value for ${name}`);
    return values[name];
  });
  return { text, values: bound };
}

/** Whether the statements were compiled for this mapping's columns (names, types, no expression or conversion). */
export function fitsMapping(statements: HistoryStatements, mapping: ResolvedMapping): boolean {
  return JSON.stringify(mapping.columns) === JSON.stringify(statements.columns);
}

/** The catalog rows of `table` (catalog.ts's catalogQuery), read on any connection of the pool. */
export async function readCatalogRows(client: Pick<PoolClient, 'query'>, statements: HistoryStatements, table: TableName): Promise<CatalogColumn[]> {
  const { text, values } = table.schema
    ? bindStatement(statements.catalog.qualified, { schema: table.schema, name: table.name })
    : bindStatement(statements.catalog.unqualified, { name: table.name });
  return (await client.query<CatalogColumn>(text, values)).rows;
}

/** What history reads for a timeline: the same functions as history.ts's, on precompiled statements. */
export interface TimelineReader {
  streamHistory(resource: ResourceKey, order: SortOrder): AsyncGenerator<AuditEntry>;
  firstEntry(resource: ResourceKey): Promise<AuditEntry | undefined>;
  firstStateEntry(resource: ResourceKey): Promise<AuditEntry | undefined>;
  idForName(type: string, name: string): Promise<string | undefined>;
}

/** history.ts's timeline functions without filters, on `client` (in its read-only transaction), for `mapping`'s table. */
export function precompiledReader(client: Pick<PoolClient, 'query'>, statements: HistoryStatements, mapping: ResolvedMapping): TimelineReader {
  const rows = async (statement: PrecompiledStatement, values: Partial<Record<SlotName, unknown>>) => {
    const { text, values: bound } = bindStatement(statement, values, mapping.table);
    return (await client.query(text, bound)).rows as AuditEntry[];
  };
  return {
    async *streamHistory(resource, order) {
      let after: Position | undefined;
      for (;;) {
        const resourceValues = { type: resource.type, id: resource.id };
        const page = after
          ? await rows(statements.page[order].after, { ...resourceValues, timestamp: after.timestamp, afterId: after.id })
          : await rows(statements.page[order].first, resourceValues);
        yield* page;
        const last = page.at(-1);
        if (!last || page.length < statements.pageSize) return;
        after = { timestamp: last.timestamp, id: last.id };
      }
    },
    firstEntry: async (resource) => (await rows(statements.firstEntry, { type: resource.type, id: resource.id }))[0],
    firstStateEntry: async (resource) => (await rows(statements.firstStateEntry, { type: resource.type, id: resource.id }))[0],
    idForName: async (type, name) => (await rows(statements.idForName, { type, resourceName: name }))[0]?.resource_id ?? undefined,
  };
}
