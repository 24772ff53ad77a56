import type { ResolvedMapping } from '../db/mapping.js';

/** `schema.table` for Kysely, which splits on the dot and quotes each part (both parts are validated identifiers). */
export function tableRef(mapping: ResolvedMapping): string {
  return `${mapping.table.schema}.${mapping.table.name}`;
}
