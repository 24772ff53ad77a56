import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { Position } from '../domain.js';
import { readSigningKey } from './keys.js';
import { PRUNE_FORMAT, signRecord, type PruneRecord } from './record.js';
import { checkStore, writeStoreJson } from './store.js';

/** Where `prune --seal-store DIR --seal-key FILE` records what it is about to delete. */
export interface PruneSealing {
  store: string;
  key: string;
}

/** `prune --seal-store DIR --seal-key FILE` (both or neither): the record's writer, checked before anything is deleted. */
export async function pruneRecordFromFlags(flags: { sealStore?: string; sealKey?: string }, cwd: string): Promise<PruneRecorder | undefined> {
  if (flags.sealStore === undefined && flags.sealKey === undefined) return undefined;
  if (flags.sealStore === undefined || flags.sealKey === undefined) {
    throw new UsageError(`${flags.sealStore === undefined ? '--seal-key' : '--seal-store'} needs ${flags.sealStore === undefined ? '--seal-store DIR' : '--seal-key FILE'} too: the prune record is written to the store, signed with the key`);
  }
  return preparePruneRecord({ store: resolve(cwd, flags.sealStore), key: resolve(cwd, flags.sealKey) });
}

/**
 * Writes the signed record of a prune about to delete entries before `cutoff` from `table`; with --only-exported,
 * `upTo` is the checkpoint's position, after which nothing is deleted whatever the cutoff.
 */
export type PruneRecorder = (cutoff: string, table: string, upTo?: Position) => Promise<void>;

/** Checks the store and key before a prune touches anything; returns the function that writes the record. */
export async function preparePruneRecord(sealing: PruneSealing): Promise<PruneRecorder> {
  await checkStore(sealing.store, '--seal-store');
  const key = await readSigningKey(sealing.key, '--seal-key');
  return async (cutoff, table, upTo) => {
    const reach = upTo ? { up_to: { timestamp: upTo.timestamp, id: upTo.id } } : {};
    const record = signRecord<PruneRecord>({ format: PRUNE_FORMAT, table, cutoff, ...reach, pruned_at: new Date().toISOString(), key_id: key.keyId }, key);
    // Written durably before the first DELETE: a crash after it leaves entries that verify still checks, never
    // deleted entries without a record.
    const stamp = record.pruned_at.replace(/[^0-9]/g, '');
    await writeStoreJson(sealing.store, `prune-${stamp}-${randomBytes(3).toString('hex')}.json`, record);
  };
}
