import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { afterPosition, beforeInstant } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import type { EntryFilters, ExportRecord, Position } from '../domain.js';
import { HEAD_BOUNDS_LENGTH, headBounds } from '../entry-head.js';
import { EntryRecord, type EntryTransform } from './export-record.js';
import { allOf, filterConditions } from './filters.js';
import { tableRef } from './table-ref.js';
import { buildEntryJsonQuery, streamEntryJson } from './entry-json.js';

export interface ExportQuery {
  filters: EntryFilters;
  /** Continue strictly after this position (the checkpoint). */
  after?: Position;
  /**
   * Only entries before this time: frozen once per run, before the COPY starts (the start of the oldest open
   * transaction, or statement_timestamp() minus the settle window if earlier: see readOpenTransactions).
   */
  before: string;
}

/** Row as the server sends it: the canonical entry as JSON text, built by PostgreSQL. */
export interface ExportRow {
  json: string;
}

/** An open transaction of another session, as pg_stat_activity shows it. */
export interface OpenTransaction {
  pid: number;
  user: string | null;
  application: string;
  state: string | null;
  /** Its xact_start, which is `now()` for every row it inserts (ISO 8601 UTC, microseconds). */
  since: string;
  /**
   * Its xact_start minus the settle window: the earliest timestamp the README promises to cover for a row it may
   * still commit (a writer's clock behind the server's by less than --settle).
   */
  holdsFrom: string;
}

/**
 * A prepared (two-phase) transaction that holds a lock on the audit table or one of its partitions: it may have
 * inserted rows of any timestamp, and its start is recorded nowhere. One that holds none inserted nothing there,
 * and being prepared it can do nothing more.
 */
export interface PreparedTransaction {
  gid: string;
  owner: string;
  prepared: string;
}

/** What the server says about transactions that may still commit rows: read before the export's COPY starts. */
export interface OpenTransactions {
  /** statement_timestamp() of the statement that read pg_stat_activity, minus the settle window. */
  settleBound: string;
  /** The other session with the oldest open transaction in this database, if any. */
  oldest?: OpenTransaction;
  /** Other sessions in this database whose transactions this role cannot see (or that do not report them). */
  hidden: number;
  role: string;
  /** A standby: its pg_stat_activity does not show the primary's transactions. */
  inRecovery: boolean;
  prepared: PreparedTransaction[];
}

/** The application_name every connection of this tool sets (db/pool.ts). */
const APPLICATION_NAME = 'api7-audit';
const ISO_UTC = sql.raw(`'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`);

/**
 * Reads the open transactions of this database in one statement (pg_stat_activity is read once per statement, after
 * statement_timestamp() was taken), then the prepared ones in a second statement, so that a transaction prepared
 * between the two is seen by one or the other. Autovacuum and this tool's own sessions (exports, lists, prunes, whose
 * READ ONLY transactions can last minutes) never insert entries and are left out. See
 * docs/decisions/001-late-commits.md for why this bounds every row the export's COPY cannot see yet.
 */
export async function readOpenTransactions(db: Db, mapping: ResolvedMapping, settleSeconds: number): Promise<OpenTransactions> {
  const activity = await sql<{
    settle_bound: string; hidden: string; role: string; in_recovery: boolean;
    pid: number | null; usename: string | null; application_name: string | null; state: string | null; since: string | null; holds_from: string | null;
  }>`
    with others as (
      select s.* from pg_stat_activity s
      where s.datid = (select oid from pg_database where datname = current_database()) and s.pid <> pg_backend_pid()
    )
    select to_char((statement_timestamp() - make_interval(secs => ${settleSeconds})) at time zone 'UTC', ${ISO_UTC}) as settle_bound,
           (select count(*) from others where backend_type is null or state = 'disabled') as hidden,
           current_user::text as role, pg_is_in_recovery() as in_recovery,
           o.pid, o.usename::text as usename, o.application_name, o.state, to_char(o.xact_start at time zone 'UTC', ${ISO_UTC}) as since,
           to_char((o.xact_start - make_interval(secs => ${settleSeconds})) at time zone 'UTC', ${ISO_UTC}) as holds_from
    from (select 1) one
    left join lateral (
      select pid, usename, application_name, state, xact_start from others
      where xact_start is not null and backend_type <> 'autovacuum worker' and application_name is distinct from ${APPLICATION_NAME}
      order by xact_start limit 1
    ) o on true`.execute(db);
  const row = activity.rows[0] as (typeof activity.rows)[number];
  const table = sql`to_regclass(quote_ident(${mapping.table.schema}) || '.' || quote_ident(${mapping.table.name}))`;
  // A prepared transaction's locks keep the virtual transaction id it had, with no pid; its transactionid lock links them.
  const prepared = await sql<PreparedTransaction>`
    select p.gid, p.owner::text as owner, to_char(p.prepared at time zone 'UTC', ${ISO_UTC}) as prepared
    from pg_prepared_xacts p
    where p.database = current_database() and exists (
      select 1 from pg_locks x join pg_locks r on r.virtualtransaction = x.virtualtransaction and r.pid is null
      where x.locktype = 'transactionid' and x.transactionid = p.transaction and x.pid is null
        and r.locktype = 'relation' and (r.relation = ${table} or r.relation in (select relid from pg_partition_tree(${table})))
    )
    order by p.prepared`.execute(db);
  return {
    settleBound: row.settle_bound,
    oldest: row.pid === null || row.since === null || row.holds_from === null
      ? undefined
      : { pid: row.pid, user: row.usename, application: row.application_name ?? '', state: row.state, since: row.since, holdsFrom: row.holds_from },
    hidden: Number(row.hidden),
    role: row.role,
    inRecovery: row.in_recovery,
    prepared: prepared.rows,
  };
}

/** The filters plus the run's window: after the checkpoint, before the settle bound. */
export function exportConditions(mapping: ResolvedMapping, query: ExportQuery) {
  const conditions = filterConditions(mapping, query.filters);
  // In the keyset's form: a raw bound let an entry past it in (instant, id) order in, ahead of one it kept out.
  conditions.push(beforeInstant(mapping, query.before));
  if (query.after) conditions.push(afterPosition(mapping, query.after));
  return allOf(conditions);
}

/** How many entries a run would ship (for --dry-run). */
export async function countExport(db: Db, mapping: ResolvedMapping, query: ExportQuery): Promise<number> {
  const row = await db
    .selectFrom(tableRef(mapping))
    .select(sql<string>`count(*)`.as('count'))
    .where(exportConditions(mapping, query))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/**
 * Streams export records, as fast as COPY delivers them (copy-out.ts), in a READ ONLY transaction of their own: one
 * statement, one snapshot. Each entry's text arrives as a byte string (src/byte-string.ts); `transform` masks it (or
 * returns it as it is), from `statesFrom` when the head was read.
 */
export async function* streamExportRecords(
  db: Db,
  mapping: ResolvedMapping,
  query: ExportQuery,
  transform: EntryTransform,
): AsyncGenerator<ExportRecord[]> {
  // The records' head bounds, a few thousand records to an array: an array for each of COPY's batches (about a
  // hundred rows) cost 0.06 µs an entry, mostly in allocating them.
  let bounds = headBounds(HEADS_AN_ARRAY);
  let next = 0;
  for await (const values of streamEntryJson(db, mapping, exportConditions(mapping, query), 'asc')) {
    yield values.map((jsonBytes) => {
      if (next === HEADS_AN_ARRAY) {
        bounds = headBounds(HEADS_AN_ARRAY);
        next = 0;
      }
      next += 1;
      return EntryRecord.read(jsonBytes, transform, bounds, (next - 1) * HEAD_BOUNDS_LENGTH);
    });
  }
}

const HEADS_AN_ARRAY = 4096;

/** The first `limit` rows in `order`, as records' raw material (for --dry-run). */
export function fetchExportRows(db: Db, mapping: ResolvedMapping, query: ExportQuery, limit: number, order: 'asc' | 'desc' = 'asc'): Promise<ExportRow[]> {
  return buildEntryJsonQuery(db, mapping, exportConditions(mapping, query), order, limit).execute() as unknown as Promise<ExportRow[]>;
}
