import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { ResolvedMapping } from '../db/mapping.js';

/** Why prune's DELETE cannot run on the audit table, if it cannot: asked before the prompt and the first batch. */
export interface DeleteObstacle {
  role: string;
  /** The session's role lacks the DELETE privilege on the table. */
  noPrivilege: boolean;
  /** Rules on DELETE (`DO INSTEAD`, `DO ALSO`): a DELETE ... RETURNING in a WITH cannot run through them. */
  rules: string[];
  /** The server is a standby, or the session's transactions are read-only (default_transaction_read_only). */
  readOnly?: 'standby' | 'session';
}

/**
 * What stands in the way of deleting from the audit table; undefined when nothing does. A dry run's session is
 * read-only on purpose (`sessionReadOnly` false leaves that out), a standby is one either way.
 */
export async function findDeleteObstacle(db: Db, mapping: ResolvedMapping, sessionReadOnly = true): Promise<DeleteObstacle | undefined> {
  const table = sql`to_regclass(quote_ident(${mapping.table.schema}) || '.' || quote_ident(${mapping.table.name}))`;
  const result = await sql<{ role: string; may_delete: boolean; rules: string[]; standby: boolean; read_only: boolean }>`
    select current_user as role, has_table_privilege(${table}, 'DELETE') as may_delete,
           array(select rulename::text from pg_rewrite where ev_class = ${table} and ev_type = '4' order by 1) as rules,
           pg_is_in_recovery() as standby, current_setting('transaction_read_only') = 'on' as read_only`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  const readOnly = row.standby ? 'standby' : sessionReadOnly && row.read_only ? 'session' : undefined;
  if (row.may_delete && row.rules.length === 0 && !readOnly) return undefined;
  return { role: row.role, noPrivilege: !row.may_delete, rules: row.rules, readOnly };
}
