import { sql } from 'kysely';
import type { Db } from './connect.js';

/** Who holds a lock we could not take, as far as pg_locks and pg_stat_activity tell. */
export interface LockHolder {
  pid: number;
  /** The holder's role (pg_stat_activity.usename): tells a teammate's manual run from the cron job's. */
  role: string | null;
  applicationName: string | null;
  /** When the holder's current transaction or session started, ISO 8601. */
  since: string | null;
}

export type LockAttempt = { acquired: true } | { acquired: false; holder?: LockHolder };

/**
 * The 64-bit advisory lock key of a name, computed by the server so every client derives the same key. As pg_locks
 * shows a bigint key split into classid (high 32 bits) and objid (low 32 bits), the holder is found by joining them.
 */
const key = (name: string) => sql`hashtextextended(${name}, 0)`;

/**
 * Tries to take a session-level advisory lock on `conn` without waiting. A lock already granted to any session of
 * this database counts as busy, including this very session: session locks are re-entrant, so behind a pooler that
 * shares one server session between clients (PgBouncer in transaction mode, the embedded PGlite server) a second
 * `pg_try_advisory_lock` would otherwise succeed.
 */
export async function tryAdvisoryLock(conn: Db, name: string): Promise<LockAttempt> {
  const result = await sql<HolderRow & { acquired: boolean }>`
    with holder as (${holderQuery(name)})
    select
      case when exists (select 1 from holder) then false else pg_try_advisory_lock(${key(name)}) end as acquired,
      ${holderColumns}
    from (select 1) as one
    left join holder h on true
    left join pg_stat_activity a on a.pid = h.pid`.execute(conn);
  const row = result.rows[0];
  if (row?.acquired) return { acquired: true };
  // Two sessions that both saw no holder race for the lock; the loser looks again to say who won.
  const holder = row?.pid ? row : await findHolder(conn, name);
  return holder ? { acquired: false, holder: toHolder(holder) } : { acquired: false };
}

export interface HolderRow {
  pid: number | null;
  usename: string | null;
  application_name: string | null;
  since: string | null;
}

/** The session holding the lock of `name`, granted, in this database. */
const holderQuery = (name: string) => sql`
  select l.pid
  from pg_locks l
  where l.locktype = 'advisory' and l.objsubid = 1 and l.granted
    and l.database = (select oid from pg_database where datname = current_database())
    and ((l.classid::bigint << 32) | l.objid::bigint) = ${key(name)}
  limit 1`;

// The lock is the session's, held across prune's batch transactions: when the session began, not the current batch.
const holderColumns = sql`h.pid, a.usename::text as usename, a.application_name,
  to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as since`;

/** The session holding the lock of `name` now, if any. */
export async function findHolder(conn: Db, name: string): Promise<HolderRow | undefined> {
  const result = await sql<HolderRow>`
    select ${holderColumns} from (${holderQuery(name)}) h left join pg_stat_activity a on a.pid = h.pid`.execute(conn);
  return result.rows[0];
}

function toHolder(row: HolderRow): LockHolder {
  return { pid: row.pid as number, role: row.usename, applicationName: row.application_name, since: row.since };
}

/** Releases a lock taken by {@link tryAdvisoryLock} on the same session. */
export async function releaseAdvisoryLock(conn: Db, name: string): Promise<void> {
  await sql`select pg_advisory_unlock(${key(name)})`.execute(conn);
}

/** The advisory lock name: one prune at a time per table, whatever client runs it (prune takes it, doctor looks). */
export const pruneLockName = (table: string) => `api7-audit prune ${table}`;
