import { UsageError } from '../errors.js';
import { formatTableName } from '../db/identifiers.js';
import type { ResolvedMapping } from '../db/mapping.js';

// Largest id each integer type can hold: a bigger number cannot exist, and PostgreSQL would fail the cast.
const INTEGER_MAX: Record<string, bigint> = { int8: 2n ** 63n - 1n, int4: 2n ** 31n - 1n, int2: 2n ** 15n - 1n, numeric: 10n ** 30n };
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Why `id` cannot be an id of the table (its id column's type would refuse the cast, failing the statement), as
 * "whole numbers" or "UUIDs" for the message, or undefined when it can.
 */
export function idProblem(mapping: ResolvedMapping, id: string): string | undefined {
  const type = mapping.columns.id?.type ?? 'text';
  const max = INTEGER_MAX[type];
  if (max !== undefined && !(/^-?\d{1,30}$/.test(id) && BigInt(id) <= max && BigInt(id) >= -max - 1n)) return 'whole numbers';
  if (type === 'uuid' && !UUID.test(id)) return 'UUIDs';
  // PostgreSQL text cannot hold NUL, and refuses a parameter that contains one.
  if (id.includes('\u0000')) return 'text without NUL characters';
  return undefined;
}

/**
 * Refuses a checkpoint whose id the table's id column cannot hold: written for another table, or edited by hand.
 * `checkpoint` names it: `checkpoint file PATH`, `--only-exported checkpoint PATH`.
 */
export function checkCheckpointId(mapping: ResolvedMapping, id: string, checkpoint: string): void {
  const problem = idProblem(mapping, id);
  if (problem) {
    throw new UsageError(
      `${checkpoint} holds id ${JSON.stringify(id)}, which cannot be in ${formatTableName(mapping.table)} (its ids are ${problem}); was it written for another table?`,
    );
  }
}
