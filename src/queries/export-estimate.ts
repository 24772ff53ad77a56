import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { withReadOnly } from '../db/read-only.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { exportConditions, type ExportQuery } from './export.js';
import { tableRef } from './table-ref.js';

/** Planning only, never executing: a catalog that is slow to lock gives no estimate rather than a late one. */
const ESTIMATE_TIMEOUT = '1s';

/** The statement whose plan is read: the export's own selection, as countExport and the COPY filter it. */
export function buildExportEstimateQuery(db: Db, mapping: ResolvedMapping, query: ExportQuery) {
  return db.selectFrom(tableRef(mapping)).select(sql`1`.as('one')).where(exportConditions(mapping, query));
}

/**
 * The planner's row estimate for a run's selection (EXPLAIN, never ANALYZE: a count(*) beside a big export costs
 * as much as the export's own scan). The planner scales pg_class.reltuples by the table's current size, and sums a
 * partitioned table's partitions, so it also serves the unfiltered run. Undefined when the plan says nothing usable.
 */
export async function estimateExport(db: Db, mapping: ResolvedMapping, query: ExportQuery): Promise<number | undefined> {
  const [plan] = await withReadOnly(db, async (trx) => {
    await sql`set local statement_timeout = ${sql.lit(ESTIMATE_TIMEOUT)}`.execute(trx);
    return buildExportEstimateQuery(trx, mapping, query).explain<{ 'QUERY PLAN': unknown }>('json');
  });
  return readPlanRows(plan?.['QUERY PLAN']);
}

/** `Plan Rows` of the top node of EXPLAIN (FORMAT JSON), which pg returns parsed or as text. */
export function readPlanRows(plan: unknown): number | undefined {
  const parsed: unknown = typeof plan === 'string' ? JSON.parse(plan) : plan;
  const rows = (parsed as [{ Plan?: { 'Plan Rows'?: unknown } }] | undefined)?.[0]?.Plan?.['Plan Rows'];
  return typeof rows === 'number' && Number.isFinite(rows) && rows >= 0 ? Math.round(rows) : undefined;
}
