import type { DeleteObstacle } from '../../queries/prune-deletable.js';
import type { PruneThroughView } from '../../queries/prune-view.js';

/** Why prune's DELETE cannot run (queries/prune-deletable.ts), and what to do instead, in one line. */
export function describeObstacle(obstacle: DeleteObstacle, table: string): string {
  if (obstacle.readOnly === 'standby') return `the server is a standby (read-only): prune ${table} on the primary`;
  if (obstacle.readOnly === 'session') {
    return `the session's transactions are read-only (default_transaction_read_only is on, for role '${obstacle.role}', the database or the connection): prune with transactions that may write`;
  }
  if (obstacle.noPrivilege) return `role '${obstacle.role}' may not DELETE from ${table}: GRANT DELETE ON ${table} TO ${obstacle.role}, or prune as a role that may`;
  return `${table} has a rule on DELETE (${obstacle.rules.join(', ')}), which prune's DELETE cannot run through: drop the rule (a BEFORE DELETE trigger can keep entries instead)`;
}

/**
 * Why prune refuses a view (queries/prune-view.ts): its lock is keyed on the relation named, so a prune through a
 * view and one of its table would run at once; naming the table is the one way both take the same lock.
 */
export function describeView(view: PruneThroughView, table: string): string {
  const [only, ...more] = view.tables;
  const use = only !== undefined && more.length === 0
    ? `use --table ${only} (its columns mapped as that table names them)`
    : `use --table with the table that holds the entries${view.tables.length > 0 ? ` (it reads ${view.tables.join(', ')})` : ''}`;
  return `${table} is a ${view.kind}: prune deletes from a table, whose lock keeps every other prune of it out; ${use}`;
}
