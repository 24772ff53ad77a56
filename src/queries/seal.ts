import { sql, type RawBuilder } from 'kysely';
import { poolOf, type Db } from '../db/connect.js';
import { copyOutValues } from '../db/copy-out.js';
import { compileWithInlineValues } from '../db/inline-values.js';
import { columnRef, fieldExpression, qualifiedRef, timestampRef, timestampValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { CANONICAL_FIELDS, type CanonicalField } from '../entry.js';
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
  if (field === 'id' || field === 'timestamp') return fieldExpression(mapping, field);
  const ref = columnRef(mapping, field);
  return ref ? sql`${ref}::text` : sql`null::text`;
}

/** `<byte length>:<bytes>,` for a value, `-,` for NULL: a netstring each, so no value can be mistaken for another. */
function piece(alias: string): RawBuilder<string> {
  const value = sql.ref(`v.${alias}`);
  return sql<string>`coalesce(octet_length(${value})::text || ':' || ${value} || ',', '-,')`;
}

/**
 * Each entry of `range` in (timestamp, id) order as one text column, its canonical encoding: the eleven pieces of
 * CANONICAL_FIELDS concatenated. Each value is read once (`v`, a lateral subselect over the index scan `p`).
 */
export function buildSealQuery(db: Db, mapping: ResolvedMapping, range: SealRange) {
  const ts = timestampRef(mapping);
  const conditions = [sql<boolean>`${ts} < ${timestampValue(mapping, { kind: 'absolute', iso: range.to })}`];
  if (range.from !== undefined) conditions.push(sql<boolean>`${ts} >= ${timestampValue(mapping, { kind: 'absolute', iso: range.from })}`);
  const selection = db
    .selectFrom(tableRef(mapping))
    .selectAll()
    .where(allOf(conditions))
    .orderBy(qualifiedRef(mapping, 'timestamp'))
    .orderBy(qualifiedRef(mapping, 'id'));
  const aliases = CANONICAL_FIELDS.map((_, i) => `f${i}`);
  const values = db.selectNoFrom(CANONICAL_FIELDS.map((field, i) => storedText(mapping, field).as(aliases[i] as string)));
  const pageColumn = (field: 'id' | 'timestamp') => sql.ref(`p.${(mapping.columns[field] as { name: string }).name}`);
  return db
    .selectFrom(selection.as('p'))
    .innerJoinLateral(values.as('v'), (join) => join.onTrue())
    .select(sql<string>`concat(${sql.join(aliases.map(piece))})`.as('encoding'))
    .orderBy(pageColumn('timestamp'))
    .orderBy(pageColumn('id'));
}

/** The canonical encodings of `range` as byte strings, batch by batch, through COPY in one READ ONLY snapshot. */
export function streamSealEncodings(db: Db, mapping: ResolvedMapping, range: SealRange): AsyncGenerator<string[]> {
  return copyOutValues(poolOf(db), compileWithInlineValues(buildSealQuery(db, mapping, range)), READ_IN_INDEX_ORDER);
}
