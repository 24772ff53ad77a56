import { UsageError } from '../errors.js';
import { readYamlFile } from './yaml-file.js';

/** A century: beyond it `now() - N days` leaves PostgreSQL's range long before it means anything. */
export const MAX_RETENTION_DAYS = 36_500;

/**
 * Reads `audit.retention_days` from the API7 control plane's own `conf.yaml`, so that `prune --cp-config` keeps
 * exactly as much as the control plane's background job would. Every other key in that file belongs to the control
 * plane and is ignored. A file that cannot be read or parsed, or a value that is not a whole number of days, is a
 * usage error naming the file; a file without the key returns undefined so the next source applies.
 */
export async function readControlPlaneRetention(path: string): Promise<number | undefined> {
  const raw = await readYamlFile(path, 'control plane config');
  // An empty file parses to null: nothing configured there, like a file without the key.
  if (raw === null || raw === undefined) return undefined;
  if (!isRecord(raw)) throw new UsageError(`control plane config '${path}': expected a mapping at the top level`);
  const audit = raw.audit;
  if (audit === undefined || audit === null) return undefined;
  if (!isRecord(audit)) throw new UsageError(`control plane config '${path}': 'audit' must be a mapping`);
  const days = audit.retention_days;
  if (days === undefined || days === null) return undefined;
  if (!(typeof days === 'number' && Number.isInteger(days) && days >= 1 && days <= MAX_RETENTION_DAYS)) {
    throw new UsageError(
      `control plane config '${path}': 'audit.retention_days' must be a whole number from 1 to ${MAX_RETENTION_DAYS}, got ${JSON.stringify(days)}`,
    );
  }
  return days;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
