import type { ColumnSpec, ColumnsSpec } from '../../config/config-file.js';
import type { CanonicalField } from '../../domain.js';
import type { TableInfo } from '../../queries/init.js';
import { quoteIdentifier } from '../../db/identifiers.js';

/** A table scored as an audit log, with the mapping that would read it. */
export interface Candidate {
  table: TableInfo;
  score: number;
  columns: ColumnsSpec;
  /** What was found and how, for the user: "timestamp: ts (epoch milliseconds)". */
  notes: string[];
  /** Why the table cannot be read as an audit log (no timestamp, no id); undefined when it can. */
  unusable?: string;
}

export interface ScoreContext {
  /** Up to a few dozen rows of the table, as JSON objects: for epochs, combined resources and JSON state shapes. */
  samples: Record<string, unknown>[];
  /** The session's TimeZone: what local times without a zone are taken to be in. */
  timeZone: string;
  /** Every readable table: where an operator id may be looked up. */
  tables: TableInfo[];
}

type Column = TableInfo['columns'][number];

const TIMESTAMP_TYPES = new Set(['timestamptz', 'timestamp']);
const EPOCH_TYPES = new Set(['int8', 'int4', 'numeric', 'float8']);
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'name', 'citext']);
const JSON_TYPES = new Set(['jsonb', 'json']);
const ID_TYPES = new Set(['int8', 'int4', 'int2', 'numeric', 'uuid', 'text', 'varchar']);
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'Universal', 'Zulu', 'UCT']);

// Names as they appear in audit tables, best first within each.
const NAMES = {
  timestamp: /^(created_at|created|timestamp|event_time|occurred_at|logged_at|ts|time|at|date|created_on|inserted_at|.*_(at|time|ts))$/,
  id: /^(id|audit_id|event_id|log_id|change_id|entry_id|event_uuid|uuid|.*_id)$/,
  operator: /^(operator|actor|username|user_name|user|principal|initiator|performed_by|who|login|.*(operator|actor|user_?name).*)$/,
  operatorId: /^(user_id|actor_id|operator_id|uid|account_id|created_by|performed_by)$/,
  operation: /^(operation|action|op|verb|method|event_type|event|activity|event_name|action_type)$/,
  resourceType: /^(resource_type|resource_kind|target_type|target_kind|object_type|object_kind|entity_type|entity_kind|kind)$/,
  resourceId: /^(resource_id|resource_key|target_id|object_id|entity_id)$/,
  resourceName: /^(resource_name|resource_label|target_name|object_name|entity_name|name)$/,
  resource: /^(resource|target|object|entity|subject)$/,
  sourceIp: /^(source_ip|ip|client_ip|remote_ip|remote_addr|ip_address|address|addr|.*_ip)$/,
  source: /^(source|channel|origin|via|client_type|user_agent_kind)$/,
  before: /(^|_)(before|old|prev|previous|original)(_|$)/,
  after: /(^|_)(after|new|current|updated)(_|$)/,
  states: /^(details|detail|data|payload|changes|change|diff|body|content|state|states|delta)$/,
  table: /audit|event|change|history|trail|activity|log/,
  users: /^(users?|accounts?|admins?|members?|operators?|principals?)$/,
  userName: ['username', 'user_name', 'login', 'name', 'display_name', 'email'],
};

const WEIGHTS: Partial<Record<CanonicalField, number>> = {
  timestamp: 30, id: 10, operator: 20, operation: 20, resource_type: 10, resource_id: 5, source_ip: 5, before: 8, after: 8,
};

/** Scores a table as an audit log and proposes its mapping: names and types first, sample values to settle shapes. */
export function scoreTable(table: TableInfo, context: ScoreContext): Candidate {
  const notes: string[] = [];
  const used = new Set<string>();
  const columns: ColumnsSpec = {};
  const take = (field: CanonicalField, column: Column | undefined, spec: ColumnSpec | undefined = column?.name, note?: string) => {
    if (!column || spec === undefined) return false;
    used.add(column.name);
    columns[field] = spec;
    notes.push(`${field}: ${note ?? column.name}`);
    return true;
  };
  const free = table.columns.filter((c) => !used.has(c.name));
  const find = (pattern: RegExp, types: Set<string>) => bestByName(table.columns.filter((c) => !used.has(c.name) && types.has(c.type)), pattern);

  const timestamp = find(NAMES.timestamp, TIMESTAMP_TYPES);
  if (timestamp) {
    const zone = timestamp.type === 'timestamp' && !UTC_ZONES.has(context.timeZone) ? context.timeZone : undefined;
    take('timestamp', timestamp, zone ? { column: timestamp.name, time_zone: zone } : timestamp.name,
      zone ? `${timestamp.name} (local time in ${zone}, the server's TimeZone)` : undefined);
  } else {
    const epoch = epochColumn(find(NAMES.timestamp, EPOCH_TYPES), context.samples);
    if (epoch) take('timestamp', epoch.column, { column: epoch.column.name, epoch: epoch.unit }, `${epoch.column.name} (epoch ${epoch.unit})`);
  }
  const pk = table.primaryKey.length === 1 ? table.columns.find((c) => c.name === table.primaryKey[0]) : undefined;
  take('id', pk && ID_TYPES.has(pk.type) ? pk : find(NAMES.id, ID_TYPES));

  if (!take('operator', find(NAMES.operator, TEXT_TYPES))) {
    const lookup = operatorLookup(table, find(NAMES.operatorId, ID_TYPES), context.tables);
    if (lookup) take('operator', lookup.column, lookup.expression, `${lookup.column.name} looked up in ${lookup.users}`);
  }
  take('operation', find(NAMES.operation, TEXT_TYPES));
  if (take('resource_type', find(NAMES.resourceType, TEXT_TYPES))) take('resource_id', find(NAMES.resourceId, new Set([...TEXT_TYPES, ...ID_TYPES])));
  else {
    const combined = combinedResource(find(NAMES.resource, TEXT_TYPES), context.samples);
    if (combined) {
      take('resource_type', combined.column, combined.type, `${combined.column.name} split at '${combined.separator}' (type)`);
      columns.resource_id = combined.id;
      notes.push(`resource_id: ${combined.column.name} split at '${combined.separator}' (id)`);
    }
  }
  take('resource_name', find(NAMES.resourceName, TEXT_TYPES));
  take('source_ip', bestByName(free.filter((c) => !used.has(c.name) && (c.type === 'inet' || c.type === 'cidr')), /./) ?? find(NAMES.sourceIp, TEXT_TYPES));
  take('source', find(NAMES.source, TEXT_TYPES));
  const stateTypes = new Set([...JSON_TYPES, 'text']);
  if (!(take('before', find(NAMES.before, stateTypes)) && take('after', find(NAMES.after, stateTypes)))) {
    const states = stateColumn(find(NAMES.states, JSON_TYPES), context.samples);
    if (states) {
      columns.before = states.before;
      columns.after = states.after;
      notes.push(`before, after: ${states.column.name} (${states.how})`);
    }
  }
  // A required field with no column reads as null, so the rest of the table stays usable; the config says so.
  for (const field of ['operator', 'operation', 'resource_type', 'resource_id'] as const) {
    if (columns[field] === undefined) {
      columns[field] = 'null::text';
      notes.push(`${field}: no column found (null)`);
    }
  }
  const score = Object.entries(WEIGHTS).reduce((sum, [field, weight]) => sum + (isMapped(columns[field as CanonicalField]) ? weight : 0), 0)
    + (NAMES.table.test(table.name.toLowerCase()) ? 10 : 0);
  const unusable = columns.timestamp === undefined ? 'no timestamp column' : columns.id === undefined ? 'no id column' : undefined;
  return { table, score: unusable ? 0 : score, columns, notes, unusable };
}

function isMapped(spec: ColumnSpec | undefined): boolean {
  return spec !== undefined && spec !== 'null::text';
}

/** The column whose name matches best: an exact alternative earlier in the pattern beats a later one. */
function bestByName(columns: Column[], pattern: RegExp): Column | undefined {
  const alternatives = pattern.source.replace(/^\^\(|\)\$$/g, '').split('|');
  let best: { column: Column; rank: number } | undefined;
  for (const column of columns) {
    const name = column.name.toLowerCase();
    if (!pattern.test(name)) continue;
    const exact = alternatives.indexOf(name);
    const rank = exact >= 0 ? exact : alternatives.length;
    if (!best || rank < best.rank) best = { column, rank };
  }
  return best?.column;
}

/** A number column holding epoch seconds or milliseconds, judged by its values (after 1973 and before 5138). */
function epochColumn(column: Column | undefined, samples: Record<string, unknown>[]): { column: Column; unit: 'seconds' | 'milliseconds' } | undefined {
  if (!column) return undefined;
  const values = samples.map((row) => Number(row[column.name])).filter((value) => Number.isFinite(value) && value > 0);
  if (values.length === 0) return undefined;
  if (values.every((value) => value >= 1e11 && value < 1e14)) return { column, unit: 'milliseconds' };
  if (values.every((value) => value >= 1e8 && value < 1e11)) return { column, unit: 'seconds' };
  return undefined;
}

/** `user_id` looked up in a users table of the same schema that has `id` and a name-like column. */
function operatorLookup(table: TableInfo, column: Column | undefined, tables: TableInfo[]) {
  if (!column) return undefined;
  for (const users of tables.filter((t) => t.schema === table.schema && NAMES.users.test(t.name.toLowerCase()))) {
    const names = new Set(users.columns.map((c) => c.name));
    const name = NAMES.userName.find((candidate) => names.has(candidate));
    // A users column named like the audit column would capture the bare reference inside the subquery.
    if (!names.has('id') || name === undefined || names.has(column.name)) continue;
    const expression = `(select u.${quoteIdentifier(name)} from ${quoteIdentifier(users.schema)}.${quoteIdentifier(users.name)} u where u.id = ${quoteIdentifier(column.name)})`;
    return { column, expression, users: `${users.schema}.${users.name}` };
  }
  return undefined;
}

// "Route: 123", "route/abc", "ssl:xyz": a word (spaces allowed), a separator, the rest.
const SEPARATORS = [': ', '/', ':'];

/** One text column holding the resource as TYPE<sep>ID, split into two expressions. */
function combinedResource(column: Column | undefined, samples: Record<string, unknown>[]) {
  if (!column) return undefined;
  const values = samples.map((row) => row[column.name]).filter((value): value is string => typeof value === 'string' && value !== '');
  if (values.length === 0) return undefined;
  const separator = SEPARATORS.find((sep) => values.every((value) => new RegExp(`^[A-Za-z][A-Za-z _-]*${escapeRegExp(sep)}\\S`).test(value)));
  if (separator === undefined) return undefined;
  const ref = quoteIdentifier(column.name);
  const literal = `'${separator}'`;
  const upper = values.some((value) => /[A-Z]/.test(value.slice(0, value.indexOf(separator))));
  const type = upper ? `lower(split_part(${ref}, ${literal}, 1))` : `split_part(${ref}, ${literal}, 1)`;
  return { column, separator, type, id: `split_part(${ref}, ${literal}, 2)` };
}

/**
 * One JSON column holding both states: `{"before": ..., "after": ...}` (or old/new), or a diff of fields, each
 * `[old, new]` or `{"old": ..., "new": ...}`.
 */
function stateColumn(column: Column | undefined, samples: Record<string, unknown>[]) {
  if (!column) return undefined;
  const values = samples.map((row) => row[column.name]).filter((value): value is Record<string, unknown> => isObject(value));
  if (values.length === 0) return undefined;
  const ref = quoteIdentifier(column.name);
  for (const [before, after] of [['before', 'after'], ['old', 'new']] as const) {
    if (values.every((value) => before in value || after in value)) {
      return { column, before: `${ref}->'${before}'`, after: `${ref}->'${after}'`, how: `its '${before}' and '${after}' keys` };
    }
  }
  const each = column.type === 'jsonb' ? 'jsonb' : 'json';
  const field = (pick: string) => `(select ${each}_object_agg(d.key, d.value${pick}) from ${each}_each(${ref}) d)`;
  const fields = values.flatMap((value) => Object.values(value));
  if (fields.length > 0 && fields.every((value) => Array.isArray(value) && value.length === 2)) {
    return { column, before: field('->0'), after: field('->1'), how: 'a diff of [old, new] per field' };
  }
  if (fields.length > 0 && fields.every((value) => isObject(value) && ('old' in value || 'new' in value))) {
    return { column, before: field(`->'old'`), after: field(`->'new'`), how: 'a diff of {old, new} per field' };
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
