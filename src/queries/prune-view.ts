import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { formatTableName } from '../db/identifiers.js';

/** The audit "table" is a view: what it is, and the tables it reads, through views over views, for the message. */
export interface PruneThroughView {
  kind: 'view' | 'materialized view';
  /** `schema.name` of each table (plain, partitioned or foreign) under the view, sorted. */
  tables: string[];
}

/**
 * Whether the mapped relation is a view rather than a table; undefined for a table. Prune's lock is keyed on the
 * relation it is given, so a prune through a view and one of its table would run at once: prune refuses views.
 * The tables are found from each view's `_RETURN` rule in pg_depend, at most 10 views deep.
 */
export async function findPruneThroughView(db: Db, mapping: ResolvedMapping): Promise<PruneThroughView | undefined> {
  const relation = sql`to_regclass(quote_ident(${mapping.table.schema}) || '.' || quote_ident(${mapping.table.name}))`;
  const result = await sql<{ relkind: string; tables: { schema: string; name: string }[] }>`
    with recursive under(oid, depth) as (
      select ${relation}::oid, 0
      union
      select d.refobjid, u.depth + 1
      from under u
      join pg_rewrite r on r.ev_class = u.oid and r.rulename = '_RETURN'
      join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass
      where d.refobjid <> u.oid and u.depth < 10
    )
    select c.relkind::text as relkind,
           (select coalesce(json_agg(json_build_object('schema', n.nspname, 'name', t.relname) order by n.nspname, t.relname), '[]')
            from (select distinct oid from under where depth > 0) u
            join pg_class t on t.oid = u.oid join pg_namespace n on n.oid = t.relnamespace
            where t.relkind in ('r', 'p', 'f')) as tables
    from pg_class c where c.oid = ${relation}`.execute(db);
  const row = result.rows[0];
  if (row?.relkind !== 'v' && row?.relkind !== 'm') return undefined;
  return { kind: row.relkind === 'v' ? 'view' : 'materialized view', tables: row.tables.map(formatTableName) };
}
