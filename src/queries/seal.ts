import { sql, type RawBuilder } from 'kysely';
import { poolOf, type Db } from '../db/connect.js';
import { copyOutValues, type CopyReader } from '../db/copy-out.js';
import { compileWithInlineValues } from '../db/inline-values.js';
import { beforeInstant, columnRef, fieldExpression, qualifiedRef, timestampRef } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
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
function storedText(mapping: ResolvedMapping, field: CanonicalField): RawBuilder<unknown> {
  if (field === 'id') return fieldExpression(mapping, field);
  // to_char gives NULL for '-infinity', which sorts before every seal's bound: its own text keeps it sealable.
  if (field === 'timestamp') return sql`coalesce(${fieldExpression(mapping, field)}, ${timestampRef(mapping)}::text)`;
  const ref = columnRef(mapping, field);
  return ref ? sql`${ref}::text` : sql`null::text`;
}

/**
 * Each entry of `range` in (timestamp, id) order as the eleven canonical fields' stored text, one column each (binary
 * COPY frames every value with its length: seal/row-hasher.ts builds the encoding from that), over the index.
 */
export function buildSealQuery(db: Db, mapping: ResolvedMapping, range: SealRange) {
  // By the instant an entry prints, as verify splits the ranges: a float8 epoch just under `to` that rounds onto it
  // belongs to the next seal (raw, it was sealed here and verify looked for it in the next: a false alarm).
  const conditions = [beforeInstant(mapping, range.to)];
  if (range.from !== undefined) conditions.push(sql<boolean>`not ${beforeInstant(mapping, range.from)}`);
  return db
    .selectFrom(tableRef(mapping))
    .select(CANONICAL_FIELDS.map((field, i) => storedText(mapping, field).as(`f${i}`)))
    .where(allOf(conditions))
    .orderBy(qualifiedRef(mapping, 'timestamp'))
    .orderBy(qualifiedRef(mapping, 'id'));
}

/**
 * The leaf lines of `range`, batch by batch, through COPY in one READ ONLY snapshot; `hasher` builds them and keeps
 * the count, the ends and the chain.
 */
export function streamSealLeaves(db: Db, mapping: ResolvedMapping, range: SealRange, hasher: CopyReader): AsyncGenerator<string[]> {
  return copyOutValues(poolOf(db), compileWithInlineValues(buildSealQuery(db, mapping, range)), READ_IN_INDEX_ORDER, hasher);
}

/** Whether row security filters what this role reads of the table: then no seal or verify of it is complete. */
export async function isRowSecurityActive(db: Db, mapping: ResolvedMapping): Promise<boolean> {
  const table = sql`to_regclass(quote_ident(${mapping.table.schema}) || '.' || quote_ident(${mapping.table.name}))`;
  const result = await sql<{ active: boolean | null }>`select row_security_active(${table}) as active`.execute(db);
  return result.rows[0]?.active === true;
}
