import type { LateCommitGuard, Position } from '../domain.js';
import { compareInstants, earlierInstant, parseInstant } from '../config/instant.js';
import type { OpenTransactions } from '../queries/export.js';

/** A run's upper bound, the guard it rests on, and what the operator should be told about it (stderr lines). */
export interface ExportBound {
  before: string;
  guard: LateCommitGuard;
  messages: string[];
}

/** An open transaction older than this, holding the bound back, is named on stderr. */
const HOLDER_NOTICE_SECONDS = 60;
/** An instant before every entry: the bound of a run that may send nothing. */
export const BEFORE_EVERYTHING = '-infinity';

/**
 * The bound that leaves behind the checkpoint no row that could still commit (docs/decisions/001-late-commits.md):
 * the start of the oldest open transaction in the database minus the settle window (a row it commits may be stamped
 * up to --settle before its start: a writer's clock behind the server's), or the settle bound if earlier. When other sessions'
 * transactions cannot be seen (role without pg_read_all_stats, a standby), only the settle window remains, and the
 * run says so. A prepared transaction may hold rows of any age: with a checkpoint, nothing past it is sent.
 */
export function decideExportBound(facts: OpenTransactions, after: Position | undefined, checkpointed: boolean): ExportBound {
  const messages: string[] = [];
  let before = facts.settleBound;
  let guard: LateCommitGuard = 'open-transactions';
  if (facts.inRecovery) {
    guard = 'settle';
    messages.push(
      'warning: connected to a standby, whose pg_stat_activity does not show the primary\'s transactions, so an entry committed more than --settle after its timestamp can be skipped; export from the primary',
    );
  } else if (facts.hidden > 0) {
    guard = 'settle';
    messages.push(
      `warning: role ${facts.role} cannot see the transactions of ${facts.hidden} other session(s) in this database, so an entry one of them commits more than --settle after its timestamp can be skipped; fix: GRANT pg_read_all_stats TO ${quoteRole(facts.role)}`,
    );
  }
  // With sessions hidden, the visible ones still narrow the bound; only the guarantee is gone.
  if (facts.oldest && compareInstants(facts.oldest.holdsFrom, facts.settleBound) < 0) {
    before = facts.oldest.holdsFrom;
    if (secondsBetween(facts.oldest.holdsFrom, facts.settleBound) >= HOLDER_NOTICE_SECONDS) {
      const { pid, user, application, state, since, holdsFrom } = facts.oldest;
      messages.push(
        `note: entries from ${holdsFrom} on wait for the next run: a transaction open since ${since} may still commit some (pid ${pid}, user ${user ?? 'unknown'}, application '${application}', ${state ?? 'state unknown'})`,
      );
    }
  }
  for (const prepared of facts.prepared) {
    const held = checkpointed
      ? `nothing after the checkpoint is sent until it is committed or rolled back`
      : `entries it holds are not in this export`;
    messages.push(
      `warning: prepared transaction '${prepared.gid}' (owner ${prepared.owner}, prepared ${prepared.prepared}) may hold entries of any age: ${held} (COMMIT PREPARED or ROLLBACK PREPARED)`,
    );
  }
  if (facts.prepared.length > 0 && checkpointed) before = after ? earlierInstant(after.timestamp, before) : BEFORE_EVERYTHING;
  return { before, guard, messages };
}

function secondsBetween(earlier: string, later: string): number {
  const [a, b] = [parseInstant(earlier), parseInstant(later)];
  return a && b ? b.seconds - a.seconds : 0;
}

/** A role name as GRANT takes it: bare when it is a plain lower-case identifier, else double-quoted. */
function quoteRole(role: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(role) ? role : `"${role.replace(/"/g, '""')}"`;
}
