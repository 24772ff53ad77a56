import type { ResolvedMapping } from '../db/mapping.js';
import { formatTableName } from '../db/identifiers.js';

/** The audited table as seal records name it, `schema.name`, the same however --table spelled it. */
export function auditTableName(mapping: ResolvedMapping): string {
  return formatTableName(mapping.table);
}
