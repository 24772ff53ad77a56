import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { fieldExpression, timeBoundCondition, timestampRef } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { streamSealLeaves, type EraFrom } from './seal.js';

export { isRowSecurityActive } from './seal.js';
export type { EraFrom } from './seal.js';
import type { CopyReader } from '../db/copy-out.js';
import { tableRef } from './table-ref.js';

/** Every entry before `to` (the newest seal's end) as its leaf line, in (timestamp, id) order; see {@link EraFrom}. */
export function streamSealedLeaves(db: Db, mapping: ResolvedMapping, to: string, hasher: CopyReader, eraFrom: EraFrom): AsyncGenerator<string[]> {
  return streamSealLeaves(db, mapping, { to }, hasher, eraFrom);
}

/** The entries not sealed yet, the oldest's timestamp, and how many are older than the age given. */
export interface Unsealed {
  count: number;
  oldest: string | null;
  olderThanAge: number;
}

/**
 * Entries at or after `from` (the newest seal's end; every entry without it): written since, not sealed yet; of them,
 * those written more than `ageSeconds` ago.
 */
export async function countUnsealed(db: Db, mapping: ResolvedMapping, from?: string, ageSeconds = 0): Promise<Unsealed> {
  const ts = timestampRef(mapping);
  // By the instant, as seal bounds its ranges (queries/seal.ts).
  const condition = from === undefined ? sql<boolean>`true` : timeBoundCondition(mapping, '>=', { kind: 'absolute', iso: from });
  const old = timeBoundCondition(mapping, '<', { kind: 'relative', interval: `${ageSeconds} seconds` });
  const oldest = db.selectFrom(tableRef(mapping)).select(fieldExpression(mapping, 'timestamp').as('t')).where(condition).orderBy(ts).limit(1);
  const row = await db
    .selectFrom(tableRef(mapping))
    .select([
      sql<string>`count(*)`.as('count'),
      sql<string>`count(*) filter (where ${old})`.as('old'),
      sql<string | null>`(${oldest})`.as('oldest'),
    ])
    .where(condition)
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), oldest: row.oldest, olderThanAge: Number(row.old) };
}
