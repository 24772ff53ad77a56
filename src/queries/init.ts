import { sql } from 'kysely';
import type { Db } from '../db/connect.js';

/** A table or view the role may read, with its columns: what init scores as a candidate audit log. */
export interface TableInfo {
  schema: string;
  name: string;
  /** 'r' table, 'p' partitioned table, 'v' view, 'm' materialized view, 'f' foreign table. */
  kind: string;
  /** The planner's row estimate (reltuples); -1 when never analyzed, as for views. */
  estimatedRows: number;
  columns: { name: string; type: string }[];
  /** The primary key's columns, in order. */
  primaryKey: string[];
}

/**
 * Every table and view the role can SELECT in the given schemas, or in those of the search path (pg_catalog and
 * information_schema left out), partitions left out. Catalog reads only.
 */
export async function listReadableTables(db: Db, schemas: string[] | undefined): Promise<TableInfo[]> {
  const inSchemas = schemas === undefined
    ? sql`n.nspname = any(current_schemas(false))`
    : sql`n.nspname = any(${schemas}::text[])`;
  const result = await sql<{ schema: string; name: string; kind: string; rows: number; columns: { name: string; type: string }[]; pk: string[] | null }>`
    select n.nspname as schema, c.relname as name, c.relkind::text as kind, c.reltuples::float8 as rows,
      (select json_agg(json_build_object('name', a.attname, 'type', t.typname) order by a.attnum)
         from pg_attribute a join pg_type t on t.oid = a.atttypid
         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
      (select array_agg(a.attname::text order by k.ord)
         from pg_index i cross join unnest(i.indkey) with ordinality as k(attnum, ord)
         join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
         where i.indrelid = c.oid and i.indisprimary) as pk
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition and ${inSchemas}
      and n.nspname not in ('pg_catalog', 'information_schema')
      and has_table_privilege(c.oid, 'SELECT')
    order by n.nspname, c.relname`.execute(db);
  return result.rows.map((row) => ({
    schema: row.schema, name: row.name, kind: row.kind, estimatedRows: Number(row.rows),
    columns: row.columns ?? [], primaryKey: row.pk ?? [],
  }));
}

/** Up to `limit` rows of a table as JSON objects (column name -> value): the values init looks at. */
export async function sampleRows(db: Db, table: Pick<TableInfo, 'schema' | 'name'>, limit: number): Promise<Record<string, unknown>[]> {
  const result = await sql<{ row: Record<string, unknown> }>`
    select to_jsonb(t) as row from ${sql.id(table.schema, table.name)} as t limit ${limit}`.execute(db);
  return result.rows.map((row) => row.row);
}

/** The session's time zone: what a `timestamp without time zone` written with now() holds local time in. */
export async function serverTimeZone(db: Db): Promise<string> {
  const result = await sql<{ zone: string }>`select current_setting('TimeZone') as zone`.execute(db);
  return result.rows[0]?.zone ?? 'UTC';
}
