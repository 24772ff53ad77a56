import { sql, type RawBuilder } from 'kysely';
import { UsageError } from '../errors.js';
import type { Db } from './connect.js';
import { withReadOnly } from './read-only.js';
import { formatTableName, type TableName } from './identifiers.js';

// The catalog statements of the table mapping (mapping.ts), which itself loads no Kysely: history resolves its
// mapping from catalog rows that a precompiled statement read (queries/history-statements.ts, docs/decisions/007).

/** One column of the audit table, as the catalog query reads it. */
export interface CatalogColumn {
  schema: string;
  name: string;
  relkind: string;
  column: string;
  type: string;
}

/** The table's columns and their types, in order; no row when no such table is there. */
export function catalogQuery(table: TableName): RawBuilder<CatalogColumn> {
  // to_regclass follows search_path for an unqualified name and returns null (no error) when nothing matches.
  const regclass = table.schema
    ? sql`to_regclass(quote_ident(${table.schema}) || '.' || quote_ident(${table.name}))`
    : sql`to_regclass(quote_ident(${table.name}))`;
  return sql<CatalogColumn>`
    select n.nspname as schema, c.relname as name, c.relkind::text as relkind, a.attname as column, t.typname as type
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    join pg_type t on t.oid = a.atttypid
    where c.oid = ${regclass} and c.relkind in ('r', 'p', 'v', 'm', 'f')
    order by a.attnum`;
}

export async function readCatalog(db: Db, table: TableName): Promise<CatalogColumn[]> {
  return (await catalogQuery(table).execute(db)).rows;
}

/**
 * Asks PostgreSQL for each expression's type name, in a READ ONLY transaction and without reading a row (`limit 0`):
 * a wrong column, function or syntax fails here, at start-up, with a line naming the expression, not in mid-stream.
 */
export async function expressionTypes(db: Db, table: Required<TableName>, expressions: [string, string][]): Promise<Record<string, string>> {
  const typesOf = async (entries: [string, string][]) => {
    const selected = entries.map(([field, text]) => sql`(${sql.raw(text)}) as ${sql.ref(field)}`);
    const typed = entries.map(([field]) => sql`(select typname from pg_type where oid = pg_typeof(x.${sql.ref(field)}))::text as ${sql.ref(field)}`);
    const result = await withReadOnly(db, (trx) => sql<Record<string, string>>`
      select ${sql.join(typed)} from (select 1) as one
      left join (select ${sql.join(selected)} from ${sql.table(`${table.schema}.${table.name}`)} limit 0) as x on true`.execute(trx));
    return result.rows[0] as Record<string, string>;
  };
  try {
    return await typesOf(expressions);
  } catch (error) {
    if (!isSqlError(error)) throw error;
    // One statement failed: find the expression to name, one at a time.
    for (const entry of expressions) {
      try {
        await typesOf([entry]);
      } catch (single) {
        if (!isSqlError(single)) throw single;
        throw new UsageError(`invalid expression for ${entry[0]} in the config file's columns: ${JSON.stringify(entry[1])}: ${single.message}`);
      }
    }
    throw error;
  }
}

/** An error PostgreSQL raised for the statement (SQLSTATE outside connection loss and shutdown), not the transport. */
function isSqlError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57|53)/.test(code);
}

/**
 * Names tables that look like an audit log (a timestamp column and an operator-like column) to help fix config:
 * those of the schema asked for (or the current one) first, readable ones only, partitions left out.
 */
export async function describeMissingTable(db: Db, table: TableName): Promise<string> {
  const result = await sql<{ table: string }>`
    select n.nspname || '.' || c.relname as table
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition
      and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_toast%'
      and has_table_privilege(c.oid, 'SELECT')
    group by n.nspname, c.relname
    having bool_or(format_type(a.atttypid, null) like 'timestamp%')
       and bool_or(a.attname ~* '(operator|actor|user|principal|initiator)')
    order by n.nspname = coalesce(${table.schema ?? null}, current_schema()) desc, 1
    limit 10`.execute(db);
  const candidates = result.rows.map((row) => row.table);
  const hint = candidates.length > 0
    ? `tables that look like an audit log: ${candidates.join(', ')} (set 'table' in the config file or use --table)`
    : 'no table in this database looks like an audit log (see examples/schema.sql)';
  return `table '${formatTableName(table)}' not found; ${hint}`;
}
