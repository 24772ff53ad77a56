import { INVALID_JSON_KEY } from '../db/entry-columns.js';
import type { ResolvedMapping } from '../db/mapping.js';
import type { AuditEntry } from '../entry.js';
import { EntryRecord } from '../queries/export-record.js';

const STATES = ['before', 'after'] as const;
const MARKERS = STATES.map((state) => [state, `,"${state}":{"${INVALID_JSON_KEY}":"invalid_json",`] as const);

/** Only a `text` state column can hold what is not JSON (json and jsonb refuse it on insert). */
export function mayHoldInvalidStates(mapping: ResolvedMapping): boolean {
  return STATES.some((state) => mapping.columns[state]?.type === 'text');
}

/**
 * Names each state of an export entry (its JSON text as a byte string) that the server found not to be JSON and
 * carried as `{"$api7_audit":"invalid_json","raw":"..."}` (src/db/entry-columns.ts).
 */
export function warnInvalidStatesInText(jsonBytes: string, verb: string, warn: (message: string) => void): void {
  for (const [state, marker] of MARKERS) {
    if (jsonBytes.includes(marker)) warn(invalidStateWarning(new EntryRecord(jsonBytes).id, state, verb));
  }
}

/** {@link warnInvalidStatesInText} for an entry read as an object (list, show). */
export function warnInvalidStatesInEntry(entry: AuditEntry, verb: string, warn: (message: string) => void): void {
  for (const state of STATES) {
    const value = entry[state] as Record<string, unknown> | null;
    if (typeof value === 'object' && value !== null && value[INVALID_JSON_KEY] === 'invalid_json') {
      warn(invalidStateWarning(entry.id, state, verb));
    }
  }
}

function invalidStateWarning(id: string, state: string, verb: string): string {
  return `warning: entry id ${id}: ${state} is not valid JSON; ${verb} as {"${INVALID_JSON_KEY}":"invalid_json","raw":"<its text>"}`;
}
