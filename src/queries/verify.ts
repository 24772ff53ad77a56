import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { timestampRef, timestampValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { streamSealLeaves } from './seal.js';
import type { CopyReader } from '../db/copy-out.js';
import { tableRef } from './table-ref.js';

/** Every entry before `to` (the newest seal's end) as its leaf line, in (timestamp, id) order. */
export function streamSealedLeaves(db: Db, mapping: ResolvedMapping, to: string, hasher: CopyReader): AsyncGenerator<string[]> {
  return streamSealLeaves(db, mapping, { to }, hasher);
}

/** Entries at or after `from` (the newest seal's end; every entry without it): written since, not sealed yet. */
export async function countUnsealed(db: Db, mapping: ResolvedMapping, from?: string): Promise<number> {
  const condition = from === undefined ? sql<boolean>`true` : sql<boolean>`${timestampRef(mapping)} >= ${timestampValue(mapping, { kind: 'absolute', iso: from })}`;
  const row = await db
    .selectFrom(tableRef(mapping))
    .select(sql<string>`count(*)`.as('count'))
    .where(condition)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
