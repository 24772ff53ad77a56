import { sql } from 'kysely';
import { CANONICAL_FIELDS, OPTIONAL_FIELDS, type CanonicalField } from '../entry.js';
import { RuntimeError, UsageError } from '../errors.js';
import type { Db } from './connect.js';
import { checkQueryableName, formatTableName, parseTableName, validateIdentifier, type TableName } from './identifiers.js';

/** A table column bound to a canonical field, with its PostgreSQL type name (`pg_type.typname`). */
export interface MappedColumn {
  name: string;
  type: string;
}

/** The audit table as found in the database: every query is built from this, never from raw config. */
export interface ResolvedMapping {
  table: Required<TableName>;
  /** Declarative partitioning (relkind 'p'): prune can drop whole partitions. */
  partitioned: boolean;
  columns: Record<CanonicalField, MappedColumn | undefined>;
}

/** Column names of the default `audit_logs` layout (examples/schema.sql). */
export const DEFAULT_COLUMNS: Record<CanonicalField, string> = {
  ...(Object.fromEntries(CANONICAL_FIELDS.map((field) => [field, field])) as Record<CanonicalField, string>),
  timestamp: 'created_at',
};

const ALLOWED_TYPES: Partial<Record<CanonicalField, readonly string[]>> = {
  id: ['int8', 'int4', 'int2', 'numeric', 'text', 'varchar', 'uuid'],
  timestamp: ['timestamptz', 'timestamp'],
  source_ip: ['inet', 'cidr', 'text', 'varchar'],
  before: ['jsonb', 'json', 'text'],
  after: ['jsonb', 'json', 'text'],
};

interface CatalogColumn {
  schema: string;
  name: string;
  relkind: string;
  column: string;
  type: string;
}

/**
 * Checks the configured table and column mapping against the catalog. Explicitly mapped columns and required fields
 * must exist; optional fields left unmapped are used when a column of the default name exists, else read as null.
 */
export async function resolveMapping(db: Db, tableSpec: string, configured: Partial<Record<CanonicalField, string>>): Promise<ResolvedMapping> {
  const table = parseTableName(tableSpec);
  for (const [field, column] of Object.entries(configured)) validateIdentifier(`column for ${field}`, column);
  const rows = await readCatalog(db, table);
  const first = rows[0];
  if (!first) throw new RuntimeError(await describeMissingTable(db, table));
  const types = new Map(rows.map((row) => [row.column, row.type]));
  const resolvedTable = { schema: first.schema, name: first.name };
  // An unqualified name may resolve through search_path to a schema whose name no query can hold.
  checkQueryableName(resolvedTable, tableSpec);
  const columns = {} as Record<CanonicalField, MappedColumn | undefined>;
  for (const field of CANONICAL_FIELDS) {
    const explicit = configured[field];
    const name = explicit ?? DEFAULT_COLUMNS[field];
    const type = types.get(name);
    if (type === undefined) {
      if (explicit !== undefined || !OPTIONAL_FIELDS.has(field)) {
        throw new RuntimeError(
          `column '${name}' (for ${field}) not found in table ${formatTableName(resolvedTable)}; its columns are: ${[...types.keys()].join(', ')}`,
        );
      }
      columns[field] = undefined;
      continue;
    }
    const allowed = ALLOWED_TYPES[field];
    if (allowed && !allowed.includes(type)) {
      throw new UsageError(`column '${name}' (for ${field}) has type ${type}; expected one of ${allowed.join(', ')}`);
    }
    columns[field] = { name, type };
  }
  return { table: resolvedTable, partitioned: first.relkind === 'p', columns };
}

async function readCatalog(db: Db, table: TableName): Promise<CatalogColumn[]> {
  // to_regclass follows search_path for an unqualified name and returns null (no error) when nothing matches.
  const regclass = table.schema
    ? sql`to_regclass(quote_ident(${table.schema}) || '.' || quote_ident(${table.name}))`
    : sql`to_regclass(quote_ident(${table.name}))`;
  const result = await sql<CatalogColumn>`
    select n.nspname as schema, c.relname as name, c.relkind::text as relkind, a.attname as column, t.typname as type
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    join pg_type t on t.oid = a.atttypid
    where c.oid = ${regclass} and c.relkind in ('r', 'p', 'v', 'm', 'f')
    order by a.attnum`.execute(db);
  return result.rows;
}

/**
 * Names tables that look like an audit log (a timestamp column and an operator-like column) to help fix config:
 * those of the schema asked for (or the current one) first, readable ones only, partitions left out.
 */
async function describeMissingTable(db: Db, table: TableName): Promise<string> {
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
