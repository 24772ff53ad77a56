import { sql, type RawBuilder } from 'kysely';
import { poolOf, type Db } from '../db/connect.js';
import { copyOutValues, type CopyReader } from '../db/copy-out.js';
import { compileWithInlineValues } from '../db/inline-values.js';
import { beforeInstant, columnRef, fieldExpression, instantOf, qualifiedRef, timeBoundCondition, timestampRef } from '../db/entry-columns.js';
import type { MappedColumn, ResolvedMapping } from '../db/mapping.js';
import { CANONICAL_FIELDS, type CanonicalField } from '../domain.js';
import { allOf } from './filters.js';
import { tableRef } from './table-ref.js';

export { readOpenTransactions } from './export.js';

/** A seal's range by time: `from <= timestamp < to`; no `from` means from the first entry. */
export interface SealRange {
  from?: string;
  to: string;
}

/** Keeps the read on the (timestamp, id) index and on one process, as export's read does. */
const READ_IN_INDEX_ORDER = ['set local enable_sort = off', 'set local max_parallel_workers_per_gather = 0'];

/**
 * A field's stored value as text (docs/decisions/005-seal-canonical-encoding.md): the timestamp as ISO 8601 UTC
 * with microseconds, the id and everything else as PostgreSQL's `::text` of the stored value (jsonb's normal form,
 * json and text as written, inet with its prefix length).
 */
function storedText(mapping: ResolvedMapping, field: CanonicalField, eraFrom: EraFrom): RawBuilder<unknown> {
  if (field === 'id') return fieldExpression(mapping, field);
  // to_char gives NULL for '-infinity', which sorts before every seal's bound: its own text keeps it sealable.
  if (field === 'timestamp') return sql`coalesce(${fieldExpression(mapping, field)} || ${eraSuffix(mapping, eraFrom)}, ${timestampRef(mapping)}::text)`;
  const ref = columnRef(mapping, field);
  return ref ? sql`${ref}::text` : sql`null::text`;
}

/**
 * Where the encoding with the era starts (api7-audit-seal/2): everywhere (`null`), or at the end of the last seal
 * made with the first encoding, whose BC timestamps printed as the AD year of the same number.
 */
export type EraFrom = string | null;

/** ` BC` after a timestamp before year 1 (in UTC, as the ISO text prints it), from `eraFrom` on; else ''. */
function eraSuffix(mapping: ResolvedMapping, eraFrom: EraFrom): RawBuilder<string> {
  const column = mapping.columns.timestamp as MappedColumn;
  // The same UTC wall time isoTimestampOf prints: a plain timestamp as it is, anything else converted.
  const utc = column.type === 'timestamp' && column.epoch === undefined && column.timeZone === undefined ? timestampRef(mapping) : sql`(${instantOf(mapping)} at time zone 'UTC')`;
  const bc = sql`${utc} < timestamp '0001-01-01 00:00:00'`;
  const when = eraFrom === null ? bc : sql`${bc} and ${timeBoundCondition(mapping, '>=', { kind: 'absolute', iso: eraFrom })}`;
  return sql<string>`case when ${when} then ' BC' else '' end`;
}

/**
 * Each entry of `range` in (timestamp, id) order as the eleven canonical fields' stored text, one column each (binary
 * COPY frames every value with its length: seal/row-hasher.ts builds the encoding from that), over the index.
 */
export function buildSealQuery(db: Db, mapping: ResolvedMapping, range: SealRange, eraFrom: EraFrom = null) {
  // By the instant an entry prints, as verify splits the ranges: a float8 epoch just under `to` that rounds onto it
  // belongs to the next seal (raw, it was sealed here and verify looked for it in the next: a false alarm).
  const conditions = [beforeInstant(mapping, range.to)];
  if (range.from !== undefined) conditions.push(timeBoundCondition(mapping, '>=', { kind: 'absolute', iso: range.from }));
  return db
    .selectFrom(tableRef(mapping))
    .select(CANONICAL_FIELDS.map((field, i) => storedText(mapping, field, eraFrom).as(`f${i}`)))
    .where(allOf(conditions))
    .orderBy(qualifiedRef(mapping, 'timestamp'))
    .orderBy(qualifiedRef(mapping, 'id'));
}

/**
 * The leaf lines of `range`, batch by batch, through COPY in one READ ONLY snapshot; `hasher` builds them and keeps
 * the count, the ends and the chain.
 */
export function streamSealLeaves(db: Db, mapping: ResolvedMapping, range: SealRange, hasher: CopyReader, eraFrom: EraFrom = null): AsyncGenerator<string[]> {
  return copyOutValues(poolOf(db), compileWithInlineValues(buildSealQuery(db, mapping, range, eraFrom)), READ_IN_INDEX_ORDER, hasher);
}

/** Whether row security filters what this role reads of the table: then no seal or verify of it is complete. */
export async function isRowSecurityActive(db: Db, mapping: ResolvedMapping): Promise<boolean> {
  const table = sql`to_regclass(quote_ident(${mapping.table.schema}) || '.' || quote_ident(${mapping.table.name}))`;
  const result = await sql<{ active: boolean | null }>`select row_security_active(${table}) as active`.execute(db);
  return result.rows[0]?.active === true;
}
