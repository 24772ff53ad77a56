import { sql, type AliasedRawBuilder, type RawBuilder } from 'kysely';
import { CANONICAL_FIELDS, INVALID_JSON_KEY, type CanonicalField, type Position, type TimeBound } from '../domain.js';
import { postgresTimestampText } from '../config/instant.js';
import { EPOCH_TYPES, type MappedColumn, type ResolvedMapping } from './mapping.js';

// Microsecond ISO text, so a position read back compares exactly equal to the stored value.
const ISO_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
/** {@link ISO_FORMAT} after the year, for the expanded years of entryTimestampOf. */
const EXPANDED_REST_FORMAT = `'-MM-DD"T"HH24:MI:SS.US"Z"'`;
const ID_CASTS: Record<string, string> = {
  int8: 'bigint', int4: 'integer', int2: 'smallint', numeric: 'numeric', text: 'text', varchar: 'varchar', uuid: 'uuid',
};

export function columnRef(mapping: ResolvedMapping, field: CanonicalField): RawBuilder<unknown> | undefined {
  const column = mapping.columns[field];
  return column ? readColumn(column) : undefined;
}

/** The column, or the configured expression in parentheses (validated by PostgreSQL in resolveMapping). */
function readColumn(column: MappedColumn): RawBuilder<unknown> {
  return column.expression === undefined ? sql.ref(column.name) : sql`(${sql.raw(column.expression)})`;
}

function requiredRef(mapping: ResolvedMapping, field: 'id' | 'timestamp'): RawBuilder<unknown> {
  return sql.ref((mapping.columns[field] as { name: string }).name);
}

export const timestampRef = (mapping: ResolvedMapping) => requiredRef(mapping, 'timestamp');
export const idRef = (mapping: ResolvedMapping) => requiredRef(mapping, 'id');

/**
 * `"schema"."table"."column"`, for ORDER BY. There a bare name means an output column of that name first, and the
 * entry selections alias `id::text` as "id": `order by "id"` sorted ties on the timestamp as text ("10" before
 * "9"), unlike the keyset comparison, and put a sort on top of the (timestamp, id) index scan.
 */
export function qualifiedRef(mapping: ResolvedMapping, field: 'id' | 'timestamp'): RawBuilder<unknown> {
  const { schema, name } = mapping.table;
  return sql.ref(`${schema}.${name}.${(mapping.columns[field] as { name: string }).name}`);
}

/** The SQL expression that reads one canonical field in its canonical representation. */
export function fieldExpression(mapping: ResolvedMapping, field: CanonicalField): RawBuilder<unknown> {
  const column = mapping.columns[field];
  if (!column) return sql`null`;
  const ref = readColumn(column);
  switch (field) {
    case 'id':
      return sql`${ref}::text`;
    case 'timestamp':
      return isoTimestampOf(mapping, ref);
    case 'source_ip':
      // host() drops the /32 or /128 that inet's text cast would add.
      return column.type === 'inet' || column.type === 'cidr' ? sql`host(${ref})` : sql`${ref}::text`;
    case 'before':
    case 'after':
      return stateExpression(ref, column.type);
    default:
      return sql`${ref}::text`;
  }
}

/**
 * A state column as one-line JSON that cannot fail. jsonb prints no raw line break (its text output escapes them in
 * strings and puts single spaces between tokens), so it goes as it is. json keeps the document's text, whose raw
 * CR and LF can only be whitespace between tokens: they become spaces, and only in rows that hold one. text is cast
 * to json (not jsonb, which refuses `\u0000`) only when {@link isValidJsonText} says the cast will succeed;
 * otherwise the value is carried as {@link INVALID_JSON_KEY} marker with the raw text, so that one bad row cannot
 * fail the statement that reads every other one.
 */
function stateExpression(ref: RawBuilder<unknown>, type: string): RawBuilder<unknown> {
  if (type === 'jsonb') return ref;
  const text = type === 'json' ? sql`${ref}::text` : ref;
  const oneLine = sql`case when strpos(${text}, chr(10)) > 0 or strpos(${text}, chr(13)) > 0
    then translate(${text}, chr(10) || chr(13), '  ')::json else ${type === 'json' ? ref : sql`${ref}::json`} end`;
  if (type === 'json') return oneLine;
  const marker = sql`(${sql.lit(`{"${INVALID_JSON_KEY}":"invalid_json","raw":`)} || to_json(${ref})::text || '}')::json`;
  return sql`case when ${isValidJsonText(ref)} then ${oneLine} else ${marker} end`;
}

/** The key of the object that stands for a text state that is not JSON: `{"$api7_audit":"invalid_json","raw":"..."}`. */
// JSON's tokens in ARE syntax: a string (escapes and all), a number, true, false, null.
const STRING_TOKEN = String.raw`"(?:[^"\\\x01-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"`;
const SCALAR_TOKEN = String.raw`-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null`;
/** Text made of JSON tokens only: one pass of the regex engine, no replacing. */
const TOKENS_ONLY = `^(?:[ \\t\\n\\r]|${STRING_TOKEN}|${SCALAR_TOKEN}|[][{}:,])*$`;
/** An innermost container: its values are already `""` (a string) or `0` (anything else), and object keys `""`. */
const INNERMOST = String.raw`\[\]|\{\}|\[(?:""|0)(?:,(?:""|0))*\]|\{"":(?:""|0)(?:,"":(?:""|0))*\}`;
const NOT_SKELETON = String.raw`[^][{}0,:"]`;
/** Nesting deeper than this is carried raw too: PostgreSQL's JSON parser recurses once per level. */
const MAX_NESTING = 1000;

/**
 * Whether a text value is one JSON document, decided without a cast (a failed cast fails the whole statement;
 * PostgreSQL 15 has no pg_input_is_valid, and the tool may not create functions). First the text must be JSON tokens
 * only. Then its skeleton: with escaped backslashes and quotes gone, every quote left delimits a string, so the text
 * between strings is what splitting at quotes leaves at odd places; joined with `""` for each string, numbers and
 * literals as `0`, whitespace dropped. Innermost containers are then folded into `0`, one nesting level per step
 * of a recursive query, until a single value remains (valid) or nothing changes (not JSON). About 20 times the
 * cost of the cast itself; only text columns pay it. Checked against the cast on hostile, random and mutated input
 * in test/integration/json-validity.test.ts.
 */
function isValidJsonText(ref: RawBuilder<unknown>): RawBuilder<boolean> {
  // Escaped backslashes first, then escaped quotes (`\\\"` is a backslash, then a quote).
  const unescaped = sql`replace(replace(${ref}, ${sql.lit('\\\\')}, ''), ${sql.lit('\\"')}, '')`;
  const between = sql`array_to_string(array(select part from unnest(string_to_array(${unescaped}, '"')) with ordinality as parts(part, n) where n % 2 = 1), '""')`;
  const skeleton = sql`translate(regexp_replace(${between}, ${sql.lit(SCALAR_TOKEN)}, '0', 'g'), ' ' || chr(9) || chr(10) || chr(13), '')`;
  return sql<boolean>`(with recursive fold(s, previous, depth) as (
      select case when ${ref} ~ ${sql.lit(TOKENS_ONLY)} then ${skeleton} else '!' end, null::text, 0
      union all
      select regexp_replace(s, ${sql.lit(INNERMOST)}, '0', 'g'), s, depth + 1 from fold
      where s is distinct from previous and s <> '0' and s !~ ${sql.lit(NOT_SKELETON)} and depth < ${sql.lit(MAX_NESTING)}
    ) select coalesce(bool_or(s in ('0', '""')), false) from fold)`;
}

/**
 * Select list producing rows shaped exactly like `AuditEntry`. With `states: false`, `before` and `after` are read
 * as null: a listing that never prints them (the table) skips reading, parsing and masking kilobytes per row.
 * `timestamp` replaces the timestamp's expression ({@link placeholderTimestamp}).
 */
export function entrySelection(mapping: ResolvedMapping, { states = true, timestamp = entryTimestamp(mapping) }: { states?: boolean; timestamp?: RawBuilder<string> } = {}): AliasedRawBuilder<unknown, string>[] {
  return CANONICAL_FIELDS.map((field) => {
    if (field === 'timestamp') return timestamp.as(field);
    return (states || (field !== 'before' && field !== 'after') ? fieldExpression(mapping, field) : sql`null`).as(field);
  });
}

/**
 * One text column holding the canonical entry as JSON, built by the server (faster than building it in Node), on
 * one line even for readers that split at U+2028, U+2029 or U+0085 too (Python's str.splitlines): those can only be
 * inside strings, where their escapes mean the same.
 */
export function entryJsonExpression(mapping: ResolvedMapping): RawBuilder<string> {
  const pairs = CANONICAL_FIELDS.map((field) => sql`${sql.lit(field)}, ${field === 'timestamp' ? entryTimestamp(mapping) : fieldExpression(mapping, field)}`);
  let text = sql<string>`json_build_object(${sql.join(pairs)})::text`;
  for (const [char, escape] of LINE_SEPARATOR_ESCAPES) text = sql<string>`replace(${text}, ${sql.lit(char)}, ${sql.lit(escape)})`;
  return text;
}

/** Characters that some readers take for a line break, and the JSON escapes that stand for them inside strings. */
const LINE_SEPARATOR_ESCAPES = [['\u2028', '\\u2028'], ['\u2029', '\\u2029'], ['\u0085', '\\u0085']] as const;

/** The timestamp column as a timestamptz: converted from epoch numbers or from local time in its zone. */
function asTimestamptz(column: MappedColumn, ref: RawBuilder<unknown> = sql.ref(column.name)): RawBuilder<unknown> {
  if (column.epoch === 'seconds') return sql`to_timestamp(${ref})`;
  if (column.epoch === 'milliseconds') return sql`to_timestamp(${ref} / 1000.0)`;
  if (column.timeZone !== undefined) return sql`(${ref} at time zone ${sql.lit(column.timeZone)})`;
  return ref;
}

/**
 * ISO 8601 UTC text of a value in the timestamp column's own form (`ref`: that column under another alias, say). A
 * BC year prints as the AD year of the same number (to_char's YYYY): seals hash this text and mark the era apart
 * (queries/seal.ts); what entries print is {@link entryTimestampOf}.
 */
export function isoTimestampOf(mapping: ResolvedMapping, ref: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`to_char(${utcTimestampOf(mapping, ref)}, ${sql.raw(ISO_FORMAT)})`;
}

/** The value as a `timestamp` holding its UTC wall time: a plain timestamp as it is, anything else converted. */
function utcTimestampOf(mapping: ResolvedMapping, ref: RawBuilder<unknown>): RawBuilder<unknown> {
  const column = mapping.columns.timestamp as MappedColumn;
  return column.type === 'timestamp' && column.epoch === undefined && column.timeZone === undefined ? ref : sql`(${asTimestamptz(column, ref)} at time zone 'UTC')`;
}

/** The timestamp column as entries print it and positions hold it: {@link entryTimestampOf}. */
export const entryTimestamp = (mapping: ResolvedMapping) => entryTimestampOf(mapping, readColumn(mapping.columns.timestamp as MappedColumn));

/**
 * The timestamp as entries print it (list, show, history, export): {@link isoTimestampOf}, but a year outside 1-9999
 * in ISO 8601's expanded form, a sign and six digits, which JavaScript's Date reads, BC years counted astronomically
 * (44 BC is `-000043`, 1 BC `0000`; config/instant.ts reads them back). to_char printed 44 BC as `0044`, the AD year.
 * Infinities stay null, as to_char gives them.
 */
export function entryTimestampOf(mapping: ResolvedMapping, ref: RawBuilder<unknown>): RawBuilder<string> {
  const utc = utcTimestampOf(mapping, ref);
  const bc = sql`${utc} < timestamp '0001-01-01'`;
  const year = sql`(extract(year from ${utc})::int + case when ${bc} then 1 else 0 end)`;
  const expandedYear = sql`case when ${year} = 0 then '0000' when ${year} < 0 then '-' || lpad((-${year})::text, 6, '0') else '+' || lpad(${year}::text, 6, '0') end`;
  return sql<string>`case when (${utc} >= timestamp '0001-01-01' and ${utc} < timestamp '10000-01-01') or not isfinite(${utc})
    then to_char(${utc}, ${sql.raw(ISO_FORMAT)}) else ${expandedYear} || to_char(${utc}, ${sql.raw(EXPANDED_REST_FORMAT)}) end`;
}

/**
 * A bound timestamp in the column's own type (epoch numbers, local time in the configured zone, UTC for a plain
 * timestamp), so a filter compares the raw column and its index stays usable.
 */
export function timestampValue(mapping: ResolvedMapping, value: TimeBound | Position): RawBuilder<unknown> {
  return columnTimestamp(mapping, timestamptzValue(value));
}

/** A time bound or position as a `timestamptz`, for arithmetic before {@link columnTimestamp} gives it the column's form. */
export function timestamptzValue(value: TimeBound | Position): RawBuilder<unknown> {
  return 'kind' in value && value.kind === 'relative'
    ? sql`(now() - cast(${value.interval} as interval))`
    : sql`cast(${postgresTimestampText('kind' in value ? value.iso : value.timestamp)} as timestamptz)`;
}

/** A `timestamptz` expression in the timestamp column's own form (epoch number, local time or UTC), to compare with it. */
export function columnTimestamp(mapping: ResolvedMapping, asTimestamptz: RawBuilder<unknown>): RawBuilder<unknown> {
  const column = mapping.columns.timestamp;
  if (column?.epoch !== undefined) {
    const seconds = sql`extract(epoch from ${asTimestamptz})${sql.raw(column.epoch === 'milliseconds' ? ' * 1000' : '')}`;
    // An integer column: ceil keeps `>=` and `<` exact; a position's value is whole already, so `<=` stays exact too.
    const whole = column.type === 'int8' || column.type === 'int4' ? sql`ceil(${seconds})` : seconds;
    return sql`cast(${whole} as ${sql.raw(EPOCH_TYPES[column.type] ?? 'numeric')})`;
  }
  if (column?.timeZone !== undefined) return sql`(${asTimestamptz} at time zone ${sql.lit(column.timeZone)})`;
  return column?.type === 'timestamp' ? sql`(${asTimestamptz} at time zone 'UTC')` : asTimestamptz;
}

/**
 * Whether entries are ordered and continued by the instant their timestamp shows rather than by the raw column,
 * which then cannot stand for it exactly: a float8 or numeric epoch holds time finer than the microseconds shown
 * (raw, the page or run after a position started before it again, forever, or skipped entries), and a local time
 * in the hour skipped in spring reads as the same instant as the hour after it (02:09 and 03:09 in Europe/Berlin),
 * which PostgreSQL converts back to the later one. An index on {@link instantOf} serves this order (doctor names it).
 */
export function keyedByInstant(mapping: ResolvedMapping): boolean {
  const column = mapping.columns.timestamp;
  return column?.timeZone !== undefined || (column?.epoch !== undefined && (column.type === 'float8' || column.type === 'numeric'));
}

/** The timestamp column (`ref`: under another alias, say) as the timestamptz an entry's timestamp prints. */
export function instantOf(mapping: ResolvedMapping, ref: RawBuilder<unknown> = timestampRef(mapping)): RawBuilder<unknown> {
  return asTimestamptz(mapping.columns.timestamp as MappedColumn, ref);
}

/** The timestamp as entries are ordered and continued: the raw column (its index serves), or {@link instantOf}. */
export function keysetTimestamp(mapping: ResolvedMapping, ref: RawBuilder<unknown> = timestampRef(mapping)): RawBuilder<unknown> {
  return keyedByInstant(mapping) ? instantOf(mapping, ref) : ref;
}

/** A time bound or position in the form of {@link keysetTimestamp}, to compare with it. */
export function keysetValue(mapping: ResolvedMapping, value: TimeBound | Position): RawBuilder<unknown> {
  return keyedByInstant(mapping) ? timestamptzValue(value) : timestampValue(mapping, value);
}

/** Entries before `iso` (exclusive): the end of a run or poll that the next one continues after. */
export function beforeInstant(mapping: ResolvedMapping, iso: string): RawBuilder<boolean> {
  return timeBoundCondition(mapping, '<', { kind: 'absolute', iso });
}

/**
 * The timestamp at or after (`>=`: --since) or before (`<`: --until, a run's end) a bound, by the instant the entry
 * prints: {@link instantBoundCondition} of the bound.
 */
export function timeBoundCondition(mapping: ResolvedMapping, op: '>=' | '<', value: TimeBound | Position): RawBuilder<boolean> {
  return instantBoundCondition(mapping, op, timestamptzValue(value));
}

/**
 * The timestamp at or after (`>=`) or before (`<`) `bound`, a timestamptz expression, by the instant the entry prints.
 * Where the raw column orders like that instant, the raw column against the bound converted (exact, and the column's
 * index serves it). Otherwise (keyedByInstant) the instant compared exactly, and the raw column within a range a
 * little wider than the bound, which adds nothing but lets the column's index serve the read: raw against the
 * converted bound alone took or left entries at a DST change or within a microsecond (decisions/012).
 */
export function instantBoundCondition(mapping: ResolvedMapping, op: '>=' | '<', bound: RawBuilder<unknown>): RawBuilder<boolean> {
  const raw = sql<boolean>`${timestampRef(mapping)} ${sql.raw(op)} ${keyedByInstant(mapping) ? widenedBound(mapping, op, bound) : columnTimestamp(mapping, bound)}`;
  return keyedByInstant(mapping) ? sql<boolean>`(${raw} and ${instantOf(mapping)} ${sql.raw(op)} ${bound})` : raw;
}

/**
 * A raw value at or below (`>=`) or above (`<`) every raw value whose instant is on that side of `bound`. An epoch:
 * one unit (a second or millisecond) beyond, far more than to_timestamp's rounding to microseconds. A local time:
 * the bound in local time by the zone's offset at it, a day and two weeks either side, the smallest (`>=`) or
 * largest (`<`): an entry near the bound has one of those offsets (the days catch a change, the weeks a POSIX rule's
 * jump of more than a day), and one further off is further off in local time too (PostgreSQL's offsets differ by
 * under 336 h). Stable expressions, not a subquery, so the planner estimates the range and picks the index. Tried on
 * every zone's changes (test/integration/time-bound-margin.test.ts). None earlier in 4714 BC's first two weeks.
 */
function widenedBound(mapping: ResolvedMapping, op: '>=' | '<', bound: RawBuilder<unknown>): RawBuilder<unknown> {
  const column = mapping.columns.timestamp as MappedColumn;
  if (column.epoch !== undefined) return sql`(${columnTimestamp(mapping, bound)} ${sql.raw(op === '>=' ? '-' : '+')} 1)`;
  const local = (at: RawBuilder<unknown>) => sql`((${at}) at time zone ${sql.lit(column.timeZone)})`;
  // Hours, not days: a timestamptz plus '1 day' is a calendar day in the session's zone, 23 or 25 hours at DST.
  const shifted = WIDENED_HOURS.map((hours) => {
    if (hours === 0) return local(bound);
    const shift = sql`interval ${sql.lit(`${Math.abs(hours)} hours`)}`;
    const earlier = sql`(case when ${bound} >= timestamptz '4714-12-08 00:00:00+00 BC' then ${bound} - ${shift} else ${bound} end)`;
    return hours > 0 ? sql`${local(sql`${bound} + ${shift}`)} - ${shift}` : sql`${local(earlier)} + ${shift}`;
  });
  return sql`${sql.raw(op === '>=' ? 'least' : 'greatest')}(${sql.join(shifted)})`;
}

/** Where {@link widenedBound} reads the zone's offset, in hours from the bound. */
const WIDENED_HOURS = [0, -24, 24, -336, 336];

/** Entries strictly after `position` in (timestamp, id) order `order`: the keyset bound of pages, cursors and checkpoints. */
export function afterPosition(mapping: ResolvedMapping, position: Position, order: 'asc' | 'desc' = 'asc'): RawBuilder<boolean> {
  const key = sql`(${keysetTimestamp(mapping)}, ${idRef(mapping)})`;
  const bound = sql`(${keysetValue(mapping, position)}, ${idValue(mapping, position.id)})`;
  return order === 'desc' ? sql<boolean>`${key} < ${bound}` : sql<boolean>`${key} > ${bound}`;
}

/** A bound id in the id column's type, so (timestamp, id) row comparisons order ids numerically when they are numbers. */
export function idValue(mapping: ResolvedMapping, id: string): RawBuilder<unknown> {
  const cast = ID_CASTS[mapping.columns.id?.type ?? 'text'] ?? 'text';
  return sql`cast(${id} as ${sql.raw(cast)})`;
}
