import { UsageError } from '../errors.js';

// Plain or unicode identifiers, as PostgreSQL stores them (63 bytes at most). Anything else from a config file is
// rejected before it reaches SQL; what passes is still quoted by Kysely, never spliced into a string.
const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_$]*$/u;
const MAX_IDENTIFIER_BYTES = 63;

/** A table reference split into its parts; `schema` is undefined for an unqualified name. */
export interface TableName {
  schema?: string;
  name: string;
}

export function validateIdentifier(what: string, value: string): string {
  if (!IDENTIFIER.test(value) || Buffer.byteLength(value) > MAX_IDENTIFIER_BYTES) {
    throw new UsageError(`invalid ${what} '${shorten(value)}': expected a PostgreSQL identifier (letters, digits, _ and $, at most 63 bytes)`);
  }
  return value;
}

/**
 * Parses `audit_logs` or `cp.audit_events`, with psql's quoting for other characters: `"Audit Logs"`,
 * `cp."audit-events"` (a doubled `""` is one quote). Unquoted parts must be plain identifiers and are taken as
 * written (not folded to lower case). A name holding a dot is refused (see {@link checkQueryableName}).
 */
export function parseTableName(value: string): TableName {
  const parts = splitQualifiedName(value);
  if (parts === undefined || parts.length > 2) {
    throw new UsageError(
      `invalid table '${shorten(value)}': expected NAME or SCHEMA.NAME, double-quoted as in psql when a part holds other characters than letters, digits, _ and $ (for example "my-schema".audit_logs)`,
    );
  }
  const [first, second] = parts.map((part, index) => {
    const schema = parts.length === 2 && index === 0;
    if (part.quoted) return validateQuoted(schema ? 'schema' : 'table', part.text, value);
    if (IDENTIFIER.test(part.text) && Buffer.byteLength(part.text) <= MAX_IDENTIFIER_BYTES) return part.text;
    throw new UsageError(
      `invalid table '${shorten(value)}': ${JSON.stringify(part.text)} is not a PostgreSQL identifier (letters, digits, _ and $, at most 63 bytes); double-quote a name with other characters, as in psql`,
    );
  }) as [string, string | undefined];
  return second === undefined ? { name: first } : { schema: first, name: second };
}

/**
 * Refuses a schema or table name that Kysely cannot name: it splits references at every `.`, takes ` as ` for an
 * alias and trims spaces, so queries on such a name fail, each with a confusing message. Also applied to the names
 * the catalog resolves (an unqualified name found through search_path).
 */
export function checkQueryableName(table: TableName, given: string = formatTableName(table)): void {
  for (const [what, part] of [['schema', table.schema], ['table', table.name]] as const) {
    const why = part === undefined ? undefined : whyUnqueryable(part);
    if (why) throw new UsageError(`cannot query table '${shorten(given)}': ${unqueryableReason(what, part as string, why)}`);
  }
}

function whyUnqueryable(part: string): string | undefined {
  if (part.includes('.')) return 'a dot';
  if (/ as /i.test(part)) return "' as '";
  return part.trim() === part ? undefined : 'a leading or trailing space';
}

function unqueryableReason(what: string, part: string, why: string): string {
  return `the ${what} name ${JSON.stringify(part)} holds ${why}, which api7-audit cannot put in a query; rename it, or give the tool a view in a schema whose name holds none`;
}

/** An identifier as SQL text that PostgreSQL reads back unchanged: bare when lower case and plain, else double-quoted. */
export function quoteIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** `schema.table` as SQL text, for statements doctor prints to run. */
export function quoteTableName(table: Required<TableName>): string {
  return `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`;
}

export function formatTableName(table: TableName): string {
  const show = (part: string) => (IDENTIFIER.test(part) ? part : `"${part.replaceAll('"', '""')}"`);
  return table.schema ? `${show(table.schema)}.${show(table.name)}` : show(table.name);
}

interface NamePart {
  text: string;
  quoted: boolean;
}

/** Splits at dots outside double quotes; undefined for an unterminated quote, an empty part or text after a quote. */
function splitQualifiedName(value: string): NamePart[] | undefined {
  const parts: NamePart[] = [];
  let index = 0;
  for (;;) {
    if (value[index] === '"') {
      let text = '';
      index++;
      for (;;) {
        const close = value.indexOf('"', index);
        if (close < 0) return undefined;
        text += value.slice(index, close);
        index = close + 1;
        if (value[index] !== '"') break;
        text += '"';
        index++;
      }
      parts.push({ text, quoted: true });
    } else {
      const end = value.indexOf('.', index);
      const text = value.slice(index, end < 0 ? value.length : end);
      if (text.includes('"')) return undefined;
      parts.push({ text, quoted: false });
      index = end < 0 ? value.length : end;
    }
    if (index === value.length) return parts;
    if (value[index] !== '.') return undefined;
    index++;
  }
}

function validateQuoted(what: 'schema' | 'table', text: string, given: string): string {
  if (text === '' || text.includes('\u0000') || Buffer.byteLength(text) > MAX_IDENTIFIER_BYTES) {
    throw new UsageError(`invalid table '${shorten(given)}': a quoted name holds 1 to 63 bytes and no NUL character`);
  }
  const why = whyUnqueryable(text);
  if (why) throw new UsageError(`invalid table '${shorten(given)}': ${unqueryableReason(what, text, why)}`);
  return text;
}

function shorten(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}
