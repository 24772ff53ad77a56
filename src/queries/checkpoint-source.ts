import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { formatTableName } from '../db/identifiers.js';
import type { ResolvedMapping } from '../db/mapping.js';

/**
 * The table an export checkpoint follows, as the checkpoint records it: its name, its database, and the server's
 * system identifier (the same on a standby as on its primary), so that a checkpoint of another table, database or
 * installation with the same names is told apart (`prune --only-exported`, an export continuing a checkpoint).
 * Where the role may not read the identifier (a managed service can revoke pg_control_system), it is left out.
 */
/** Permission denied, no such function, not supported: the identifier is not to be had on this server. */
const NOT_ALLOWED = new Set(['42501', '42883', '0A000']);

export async function readCheckpointSource(db: Db, mapping: ResolvedMapping): Promise<string> {
  const table = formatTableName(mapping.table);
  const server = await sql<{ database: string; server: string }>`
    select current_database() as database, (select system_identifier::text from pg_control_system()) as server`
    .execute(db)
    .then((result) => result.rows[0])
    .catch((error: unknown) => {
      if (NOT_ALLOWED.has((error as { code?: string } | null)?.code ?? '')) return undefined;
      throw error;
    });
  if (server) return `${table} in database ${server.database} (server ${server.server})`;
  const database = (await sql<{ database: string }>`select current_database() as database`.execute(db)).rows[0]?.database;
  return `${table} in database ${database ?? '?'}`;
}
