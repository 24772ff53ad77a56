import { UsageError } from '../errors.js';

/**
 * The zone of the table's TIME column: API7_AUDIT_TZ when set, else with `--local` this machine's zone (TZ, else the
 * system's), else undefined for UTC. Machine output (JSON, NDJSON, CSV) stays ISO 8601 UTC whatever this says.
 */
export function resolveTimeZone(local: boolean, env: NodeJS.ProcessEnv): string | undefined {
  const chosen = env.API7_AUDIT_TZ?.trim();
  if (chosen) return checkZone('API7_AUDIT_TZ', chosen);
  if (!local) return undefined;
  const tz = env.TZ?.trim().replace(/^:/, '');
  if (tz) return checkZone('TZ', tz);
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function checkZone(source: string, zone: string): string {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new UsageError(`invalid ${source} '${zone}': expected an IANA time zone such as UTC, Europe/Berlin or America/New_York`);
  }
}
