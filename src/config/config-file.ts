import { CANONICAL_FIELDS, type CanonicalField } from '../domain.js';
import { UsageError } from '../errors.js';
import { readYamlFile } from './yaml-file.js';

/** What a config file may hold. Every key is optional; unknown keys are rejected so typos do not go unnoticed. */
export interface ConfigFile {
  database?: { url?: string; connect_timeout?: number };
  table?: string;
  columns?: ColumnsSpec;
  secrets?: { keys?: string[]; mode?: 'extend' | 'replace'; fingerprints?: boolean; fingerprint_key_file?: string };
  retention_days?: number;
}

/**
 * How a canonical field is read: a column name, an SQL expression over the table's columns (any field but id and
 * timestamp), or, for the timestamp, a column holding epoch numbers or local time in a named zone.
 */
export type ColumnSpec = string | TimestampSpec;
export interface TimestampSpec {
  column: string;
  epoch?: 'seconds' | 'milliseconds';
  time_zone?: string;
}
export type ColumnsSpec = Partial<Record<CanonicalField, ColumnSpec>>;

/** Longest expression accepted: a mapping, not a program. */
export const MAX_EXPRESSION_LENGTH = 2000;
// A second statement or a comment hiding the rest of the text has no place in one expression.
const FORBIDDEN_IN_EXPRESSION = /;|--|\/\*|\*\//;
const TIME_ZONE = /^[A-Za-z0-9_+\-/:]{1,64}$/;

/** The longest connect timeout, in seconds: a day. Node's timers overflow past 2^31 ms and would fire at once. */
export const MAX_CONNECT_TIMEOUT_S = 86_400;

/** Reads and validates a config file, collecting every problem into one error. */
export async function loadConfigFile(path: string): Promise<ConfigFile> {
  const raw = (await readYamlFile(path, 'config file')) ?? {};
  const problems = validateConfig(raw);
  if (problems.length > 0) throw new UsageError(`config file '${path}': ${problems.join('; ')}`);
  return raw as ConfigFile;
}

function validateConfig(raw: unknown): string[] {
  if (!isRecord(raw)) return ['expected a mapping at the top level'];
  const problems: string[] = [];
  const known = ['database', 'table', 'columns', 'secrets', 'retention_days'];
  for (const key of Object.keys(raw)) if (!known.includes(key)) problems.push(`unknown key '${key}'`);
  if (raw.database !== undefined) {
    if (!isRecord(raw.database)) problems.push(`'database' must be a mapping`);
    else {
      for (const key of Object.keys(raw.database)) {
        if (key !== 'url' && key !== 'connect_timeout') problems.push(`unknown key 'database.${key}'`);
      }
      if (raw.database.url !== undefined && typeof raw.database.url !== 'string') problems.push(`'database.url' must be a string`);
      const timeout = raw.database.connect_timeout;
      if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0 && timeout <= MAX_CONNECT_TIMEOUT_S)) {
        problems.push(`'database.connect_timeout' must be a positive number of seconds, at most ${MAX_CONNECT_TIMEOUT_S} (a day), got ${JSON.stringify(timeout)}`);
      }
    }
  }
  if (raw.table !== undefined && typeof raw.table !== 'string') problems.push(`'table' must be a string`);
  if (raw.columns !== undefined) problems.push(...validateColumns(raw.columns));
  if (raw.secrets !== undefined) problems.push(...validateSecrets(raw.secrets));
  const days = raw.retention_days;
  if (days !== undefined && !(Number.isInteger(days) && (days as number) >= 1)) {
    problems.push(`'retention_days' must be a whole number of at least 1, got ${JSON.stringify(days)}`);
  }
  return problems;
}

function validateColumns(columns: unknown): string[] {
  if (!isRecord(columns)) return [`'columns' must be a mapping of canonical field to column name`];
  const problems: string[] = [];
  for (const [field, column] of Object.entries(columns)) {
    if (!CANONICAL_FIELDS.includes(field as CanonicalField)) {
      problems.push(`unknown field 'columns.${field}' (fields: ${CANONICAL_FIELDS.join(', ')})`);
    } else if (field === 'timestamp' && isRecord(column)) {
      problems.push(...validateTimestampSpec(column));
    } else if (typeof column !== 'string' || column.trim() === '') {
      problems.push(`'columns.${field}' must be a column name${field === 'id' ? '' : field === 'timestamp' ? ' or { column, epoch | time_zone }' : ' or an SQL expression'}`);
    } else {
      const problem = expressionProblem(field as CanonicalField, column);
      if (problem) problems.push(`'columns.${field}' ${problem}`);
    }
  }
  return problems;
}

/** Whether a mapping value is an SQL expression rather than a column name. */
export function isExpression(value: string): boolean {
  return !/^[\p{L}_][\p{L}\p{N}_$]*$/u.test(value);
}

function expressionProblem(field: CanonicalField, value: string): string | undefined {
  if (!isExpression(value)) return undefined;
  if (field === 'id' || field === 'timestamp') {
    return `must be a column name (the (timestamp, id) order is read from an index); for epoch numbers or local time use { column, epoch | time_zone }`;
  }
  if (value.length > MAX_EXPRESSION_LENGTH) return `is an expression of ${value.length} characters; at most ${MAX_EXPRESSION_LENGTH}`;
  if (FORBIDDEN_IN_EXPRESSION.test(value) || value.includes('\u0000')) return `expression ${JSON.stringify(value)} holds ';', a comment or a NUL: one SQL expression only`;
  return undefined;
}

function validateTimestampSpec(spec: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(spec)) if (!['column', 'epoch', 'time_zone'].includes(key)) problems.push(`unknown key 'columns.timestamp.${key}'`);
  if (typeof spec.column !== 'string' || isExpression(spec.column)) problems.push(`'columns.timestamp.column' must be a column name`);
  if (spec.epoch !== undefined && spec.epoch !== 'seconds' && spec.epoch !== 'milliseconds') problems.push(`'columns.timestamp.epoch' must be 'seconds' or 'milliseconds'`);
  if (spec.time_zone !== undefined && !(typeof spec.time_zone === 'string' && TIME_ZONE.test(spec.time_zone))) {
    problems.push(`'columns.timestamp.time_zone' must be a time zone name such as Europe/Berlin, got ${JSON.stringify(spec.time_zone)}`);
  }
  if (spec.epoch !== undefined && spec.time_zone !== undefined) problems.push(`'columns.timestamp' takes epoch or time_zone, not both`);
  return problems;
}

function validateSecrets(secrets: unknown): string[] {
  if (!isRecord(secrets)) return [`'secrets' must be a mapping`];
  const problems: string[] = [];
  const known = ['keys', 'mode', 'fingerprints', 'fingerprint_key_file'];
  for (const key of Object.keys(secrets)) if (!known.includes(key)) problems.push(`unknown key 'secrets.${key}'`);
  if (secrets.fingerprints !== undefined && typeof secrets.fingerprints !== 'boolean') problems.push(`'secrets.fingerprints' must be true or false`);
  const keyFile = secrets.fingerprint_key_file;
  if (keyFile !== undefined && !(typeof keyFile === 'string' && keyFile !== '')) problems.push(`'secrets.fingerprint_key_file' must be a file name`);
  const keys = secrets.keys;
  if (keys !== undefined && !(Array.isArray(keys) && keys.every((k) => typeof k === 'string' && k !== ''))) {
    problems.push(`'secrets.keys' must be a list of key names`);
  }
  if (secrets.mode !== undefined && secrets.mode !== 'extend' && secrets.mode !== 'replace') {
    problems.push(`'secrets.mode' must be 'extend' or 'replace'`);
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
