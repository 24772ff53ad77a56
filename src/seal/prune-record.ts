import { randomBytes } from 'node:crypto';
import { readSigningKey } from './keys.js';
import { PRUNE_FORMAT, signRecord, type PruneRecord } from './record.js';
import { checkStore, writeStoreJson } from './store.js';

/** Where `prune --seal-store DIR --seal-key FILE` records what it is about to delete. */
export interface PruneSealing {
  store: string;
  key: string;
}

/** Checks the store and key before a prune touches anything; returns the function that writes the record. */
export async function preparePruneRecord(sealing: PruneSealing): Promise<(cutoff: string, table: string) => Promise<void>> {
  await checkStore(sealing.store, '--seal-store');
  const key = await readSigningKey(sealing.key, '--seal-key');
  return async (cutoff, table) => {
    const record = signRecord<PruneRecord>({ format: PRUNE_FORMAT, table, cutoff, pruned_at: new Date().toISOString(), key_id: key.keyId }, key);
    // Written durably before the first DELETE: a crash after it leaves entries that verify still checks, never
    // deleted entries without a record.
    const stamp = record.pruned_at.replace(/[^0-9]/g, '');
    await writeStoreJson(sealing.store, `prune-${stamp}-${randomBytes(3).toString('hex')}.json`, record);
  };
}
