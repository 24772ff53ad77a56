import { CANONICAL_FIELDS, OPTIONAL_FIELDS, type CanonicalField } from '../domain.js';
import { RuntimeError, UsageError } from '../errors.js';
import { isExpression, type ColumnsSpec } from '../config/config-file.js';
import type { Db } from './connect.js';
import type { CatalogColumn } from './catalog.js';
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

/**
 * Checks the configured table and column mapping against the catalog. Explicitly mapped columns and required fields
 * must exist; optional fields left unmapped are used when a column of the default name exists, else read as null.
 */
export async function resolveMapping(db: Db, tableSpec: string, configured: ColumnsSpec): Promise<ResolvedMapping> {
  const { readCatalog } = await import('./catalog.js');
  return resolveMappingFrom(await readCatalog(db, parseTableName(tableSpec)), tableSpec, configured, async () => db);
}

/**
 * {@link resolveMapping} from the catalog's rows for the table (catalog.ts's `catalogQuery`, read by the caller):
 * Kysely is asked for (`kysely`) only when the table is missing or the config maps expressions, which need queries.
 */
export async function resolveMappingFrom(rows: CatalogColumn[], tableSpec: string, configured: ColumnsSpec, kysely: () => Promise<Db>): Promise<ResolvedMapping> {
  const table = parseTableName(tableSpec);
  const first = rows[0];
  if (!first) {
    const { describeMissingTable } = await import('./catalog.js');
    throw new RuntimeError(await describeMissingTable(await kysely(), table));
  }
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
  if (expressions.size > 0) Object.assign(columns, await resolveExpressions(await kysely(), resolvedTable, expressions));
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

/** Each expression's column, typed by PostgreSQL (catalog.ts's expressionTypes) and checked as a column would be. */
async function resolveExpressions(db: Db, table: Required<TableName>, expressions: Map<CanonicalField, string>): Promise<Partial<Record<CanonicalField, MappedColumn>>> {
  const { expressionTypes } = await import('./catalog.js');
  const types = await expressionTypes(db, table, [...expressions]);
  const resolved: Partial<Record<CanonicalField, MappedColumn>> = {};
  for (const [field, text] of expressions) {
    resolved[field] = { ...checkType(field, text, types[field] ?? 'unknown', `expression ${JSON.stringify(text)}`), expression: text };
  }
  return resolved;
}
