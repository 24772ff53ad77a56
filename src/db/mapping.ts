import { sql } from 'kysely';
import { CANONICAL_FIELDS, OPTIONAL_FIELDS, type CanonicalField } from '../domain.js';
import { RuntimeError, UsageError } from '../errors.js';
import { isExpression, type ColumnsSpec } from '../config/config-file.js';
import type { Db } from './connect.js';
import { withReadOnly } from './read-only.js';
import { checkQueryableName, formatTableName, parseTableName, validateIdentifier, type TableName } from './identifiers.js';

/** A table column bound to a canonical field, with its PostgreSQL type name (`pg_type.typname`). */
export interface MappedColumn {
  /** The column's name; for an expression, its SQL text (for messages). */
  name: string;
  type: string;
  /** SQL read in place of a column: from the config file only, type-checked by PostgreSQL at start-up. */
  expression?: string;
  /** timestamp only: the column counts seconds or milliseconds since 1970 (UTC). */
  epoch?: 'seconds' | 'milliseconds';
  /** timestamp only: a `timestamp without time zone` holding local time in this zone. */
  timeZone?: string;
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
  source_ip: ['inet', 'cidr', 'text', 'varchar', 'bpchar'],
  before: ['jsonb', 'json', 'text'],
  after: ['jsonb', 'json', 'text'],
};

/** Column types an epoch timestamp may have. */
export const EPOCH_TYPES: Record<string, string> = { int8: 'bigint', int4: 'integer', numeric: 'numeric', float8: 'double precision' };

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
export async function resolveMapping(db: Db, tableSpec: string, configured: ColumnsSpec): Promise<ResolvedMapping> {
  const table = parseTableName(tableSpec);
  const rows = await readCatalog(db, table);
  const first = rows[0];
  if (!first) throw new RuntimeError(await describeMissingTable(db, table));
  const types = new Map(rows.map((row) => [row.column, row.type]));
  const resolvedTable = { schema: first.schema, name: first.name };
  // An unqualified name may resolve through search_path to a schema whose name no query can hold.
  checkQueryableName(resolvedTable, tableSpec);
  const columns = {} as Record<CanonicalField, MappedColumn | undefined>;
  const expressions = new Map<CanonicalField, string>();
  for (const field of CANONICAL_FIELDS) {
    const spec = configured[field];
    if (typeof spec === 'string' && isExpression(spec)) {
      expressions.set(field, spec);
      continue;
    }
    const explicit = typeof spec === 'string' ? spec : spec?.column;
    if (explicit !== undefined) validateIdentifier(`column for ${field}`, explicit);
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
    columns[field] = typeof spec === 'object' ? timestampColumn(name, type, spec) : checkType(field, name, type);
  }
  if (expressions.size > 0) Object.assign(columns, await resolveExpressions(db, resolvedTable, expressions));
  // Partitions bounded by epoch numbers or local times are not read as times: such a table is pruned row by row.
  const converted = columns.timestamp?.epoch !== undefined || columns.timestamp?.timeZone !== undefined;
  return { table: resolvedTable, partitioned: first.relkind === 'p' && !converted, columns };
}

function checkType(field: CanonicalField, name: string, type: string, what = `column '${name}'`): MappedColumn {
  const allowed = ALLOWED_TYPES[field];
  if (allowed && !allowed.includes(type)) {
    throw new UsageError(`${what} (for ${field}) has type ${type}; expected one of ${allowed.join(', ')}`);
  }
  return { name, type };
}

function timestampColumn(name: string, type: string, spec: { epoch?: 'seconds' | 'milliseconds'; time_zone?: string }): MappedColumn {
  if (spec.epoch !== undefined) {
    if (!(type in EPOCH_TYPES)) throw new UsageError(`column '${name}' (for timestamp, epoch: ${spec.epoch}) has type ${type}; expected one of ${Object.keys(EPOCH_TYPES).join(', ')}`);
    return { name, type, epoch: spec.epoch };
  }
  if (spec.time_zone !== undefined) {
    if (type !== 'timestamp') throw new UsageError(`column '${name}' (for timestamp, time_zone: ${spec.time_zone}) has type ${type}; a time zone applies to timestamp (without time zone) only`);
    return { name, type, timeZone: spec.time_zone };
  }
  return checkType('timestamp', name, type);
}

/**
 * Asks PostgreSQL for each expression's type, in a READ ONLY transaction and without reading a row (`limit 0`): a
 * wrong column, function or syntax fails here, at start-up, with a line naming the expression, not in mid-stream.
 */
async function resolveExpressions(db: Db, table: Required<TableName>, expressions: Map<CanonicalField, string>): Promise<Partial<Record<CanonicalField, MappedColumn>>> {
  const typesOf = async (entries: [CanonicalField, string][]) => {
    const selected = entries.map(([field, text]) => sql`(${sql.raw(text)}) as ${sql.ref(field)}`);
    const typed = entries.map(([field]) => sql`(select typname from pg_type where oid = pg_typeof(x.${sql.ref(field)}))::text as ${sql.ref(field)}`);
    const result = await withReadOnly(db, (trx) => sql<Record<string, string>>`
      select ${sql.join(typed)} from (select 1) as one
      left join (select ${sql.join(selected)} from ${sql.table(`${table.schema}.${table.name}`)} limit 0) as x on true`.execute(trx));
    return result.rows[0] as Record<string, string>;
  };
  const entries = [...expressions];
  let types: Record<string, string>;
  try {
    types = await typesOf(entries);
  } catch (error) {
    if (!isSqlError(error)) throw error;
    // One statement failed: find the expression to name, one at a time.
    for (const entry of entries) {
      try {
        await typesOf([entry]);
      } catch (single) {
        if (!isSqlError(single)) throw single;
        throw new UsageError(`invalid expression for ${entry[0]} in the config file's columns: ${JSON.stringify(entry[1])}: ${single.message}`);
      }
    }
    throw error;
  }
  const resolved: Partial<Record<CanonicalField, MappedColumn>> = {};
  for (const [field, text] of entries) {
    resolved[field] = { ...checkType(field, text, types[field] ?? 'unknown', `expression ${JSON.stringify(text)}`), expression: text };
  }
  return resolved;
}

/** An error PostgreSQL raised for the statement (SQLSTATE outside connection loss and shutdown), not the transport. */
function isSqlError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57|53)/.test(code);
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
