import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { allOf } from './filters.js';
import { boundConditions, type PruneBound } from './prune.js';
import { tableRef } from './table-ref.js';

/**
 * Whether any entry within the prune's bound is left: one probe of the (timestamp, id) index from its start. After
 * a pass, only an entry inserted back-dated behind the pass's position can be. The first probe after a pass steps
 * over the index entries of the rows just deleted, and marks them dead in the index as it goes.
 */
export async function anyEntryLeft(db: Db, mapping: ResolvedMapping, bound: PruneBound): Promise<boolean> {
  const table = sql.table(tableRef(mapping));
  const result = await sql<{ left: boolean }>`
    select exists (select 1 from ${table} where ${allOf(boundConditions(mapping, bound))}) as left`.execute(db);
  return result.rows[0]?.left === true;
}
