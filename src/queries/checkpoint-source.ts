import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { formatTableName } from '../db/identifiers.js';
import type { ResolvedMapping } from '../db/mapping.js';

/**
 * The table an export checkpoint follows, as the checkpoint records it: its name, its database, and the server's
 * system identifier (the same on a standby as on its primary), so that a checkpoint of another table, database or
 * installation with the same names is told apart (`prune --only-exported`, an export continuing a checkpoint).
 */
export async function readCheckpointSource(db: Db, mapping: ResolvedMapping): Promise<string> {
  const result = await sql<{ database: string; server: string | null }>`
    select current_database() as database, (select system_identifier::text from pg_control_system()) as server`.execute(db);
  const row = result.rows[0];
  return `${formatTableName(mapping.table)} in database ${row?.database ?? '?'} (server ${row?.server ?? 'unknown'})`;
}
