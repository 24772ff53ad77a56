import type { AuditEntry } from '../domain.js';
import type { Db } from '../db/connect.js';
import { entrySelection, idRef, idValue } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { tableRef } from './table-ref.js';

export function buildShowQuery(db: Db, mapping: ResolvedMapping, id: string) {
  return db.selectFrom(tableRef(mapping)).select(entrySelection(mapping)).where(idRef(mapping), '=', idValue(mapping, id)).limit(1);
}

/** The entry with this id, or undefined. */
export async function findEntry(db: Db, mapping: ResolvedMapping, id: string): Promise<AuditEntry | undefined> {
  return (await buildShowQuery(db, mapping, id).executeTakeFirst()) as unknown as AuditEntry | undefined;
}
