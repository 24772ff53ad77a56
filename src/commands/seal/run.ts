import type { CliIo } from '../../io.js';
import { RuntimeError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { compareInstants } from '../../config/instant.js';
import { withAuditTable, type AuditTable } from '../../db/session.js';
import type { OpenPool } from '../../db/pool.js';
import { closeOnFailure } from '../../seal/before-connecting.js';
import { isRowSecurityActive, readOpenTransactions, streamSealLeaves } from '../../queries/seal.js';
import { decideExportBound } from '../../delivery/export-bound.js';
import { GENESIS_HASH } from '../../seal/canonical.js';
import { SealRowHasher } from '../../seal/row-hasher.js';
import { createKeyFiles, publicKeyPem, readSigningKey, type SigningKey } from '../../seal/keys.js';
import { hasValidSignature, SEAL_FORMAT, signRecord, type SealRecord } from '../../seal/record.js';
import { checkStore, LeavesWriter, listStore, narrowStoreFiles, readStoreJson, sealFileName, writeStoreJson } from '../../seal/store.js';
import { auditTableName } from '../../seal/table-name.js';
import { explainPermission, rowSecurityError } from '../../seal/permission.js';
import { sanitizeForTerminal } from '../../terminal-safe.js';

export interface SealOptions {
  store: string;
  key: string;
  json: boolean;
  /** The late-commit margin, as export's --settle (docs/decisions/001-late-commits.md). */
  settleSeconds: number;
}

/** What a run printed: the new record, or why there was nothing to seal. */
export type SealResult = { sealed: true; record: SealRecord } | { sealed: false; reason: string; from: string | null; to: string };

/** `seal --new-key --key FILE`: writes the key pair and prints the public key (what auditors keep) on stdout. */
export async function runNewKey(path: string, io: CliIo): Promise<void> {
  const { publicKey, keyId, publicPath } = await createKeyFiles(path);
  io.stdout.write(publicKeyPem(publicKey));
  io.stderr.write(`wrote the private key to ${path} (mode 0600; keep it where seal runs, nowhere else) and the public key to ${publicPath} (key id ${keyId}; give it to the auditors: verify --public-key)\n`);
}

/**
 * Seals the entries written since the last seal, up to the late-commit bound: hashes them in (timestamp, id) order
 * as COPY delivers them, writes their leaves, then the signed record that commits the seal.
 */
export async function runSeal(options: SealOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  const key = await closeOnFailure(early, () => readSigningKey(options.key));
  await closeOnFailure(early, async () => {
    await checkStore(options.store);
    await narrowStoreFiles(options.store, (message) => io.stderr.write(`${message}\n`));
  });
  const result = await withAuditTable(config, (table) => sealOnce(table, options, key, io).catch((error: unknown) => {
    throw explainPermission(error, auditTableName(table.mapping), 'seal');
  }), { early, activity: 'seal' });
  io.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${sanitizeForTerminal(describe(result))}\n`);
}

async function sealOnce(table: AuditTable, options: SealOptions, key: SigningKey, io: CliIo): Promise<SealResult> {
  const tableName = auditTableName(table.mapping);
  if (await isRowSecurityActive(table.db, table.mapping)) throw rowSecurityError(tableName, 'seal');
  const previous = await readLastSeal(options.store, key, tableName);
  const from = previous?.to ?? null;
  const facts = await readOpenTransactions(table.db, table.mapping, options.settleSeconds);
  const bound = decideExportBound(facts, from === null ? undefined : { timestamp: from, id: '' }, true);
  for (const message of bound.messages) io.stderr.write(`${inSealWords(message)}\n`);
  const to = bound.before;
  if (to === '-infinity' || (from !== null && compareInstants(to, from) <= 0)) {
    return { sealed: false, reason: 'an open transaction may still add entries after the last seal', from, to };
  }
  const seq = (previous?.seq ?? 0) + 1;
  const leaves = await LeavesWriter.create(options.store, seq);
  const hasher = new SealRowHasher(previous?.hash ?? GENESIS_HASH);
  try {
    for await (const _ of streamSealLeaves(table.db, table.mapping, { from: from ?? undefined, to }, hasher)) await leaves.write(hasher.takeLines());
    await leaves.write(hasher.takeLines());
  } catch (error) {
    await leaves.abort();
    throw error;
  }
  const { first, last, count } = hasher;
  if (!first || !last) {
    await leaves.abort();
    return { sealed: false, reason: 'no entries since the last seal', from, to };
  }
  const written = await leaves.finish();
  const record = signRecord<SealRecord>({
    format: SEAL_FORMAT,
    seq,
    table: tableName,
    from,
    to,
    count,
    first,
    last,
    previous_hash: previous?.hash ?? GENESIS_HASH,
    hash: hasher.digest(),
    leaves_file: written.name,
    leaves_sha256: written.sha256,
    sealed_at: new Date().toISOString(),
    late_commit_guard: bound.guard,
    key_id: key.keyId,
  }, key);
  try {
    await writeStoreJson(options.store, sealFileName(seq), record);
  } catch (error) {
    await leaves.discard();
    throw error;
  }
  return { sealed: true, record };
}

/** The newest seal, checked before anything is chained onto it: same table, signed by this key. */
async function readLastSeal(store: string, key: SigningKey, tableName: string): Promise<SealRecord | undefined> {
  const { seals } = await listStore(store);
  if (seals.size === 0) return undefined;
  const seq = Math.max(...seals.keys());
  const name = seals.get(seq) as string;
  const record = await readStoreJson(store, name);
  if (record.table !== tableName) {
    throw new RuntimeError(`seal store '${store}' seals table ${String(record.table)}, not ${tableName}; use one store per table`);
  }
  if (record.seq !== seq) {
    throw new RuntimeError(`the newest seal in '${store}' (${name}) is seal ${String(record.seq)} under another name; refusing to chain onto it: run verify`);
  }
  if (record.key_id !== key.keyId || !hasValidSignature(record, key)) {
    throw new RuntimeError(`the newest seal in '${store}' (${name}) is not signed by --key (key id ${key.keyId}); refusing to chain onto it: run verify`);
  }
  return record as unknown as SealRecord;
}

/**
 * The late-commit bound's messages are export's; for a seal, an entry committed behind the bound is not skipped but
 * shows as inserted in verify, and the checkpoint is the last seal.
 */
function inSealWords(message: string): string {
  return message
    .replaceAll('export', 'seal')
    .replace('can be skipped', 'lands in a sealed range (verify reports it as inserted, possibly late)')
    .replace('nothing after the checkpoint is sent', 'nothing after the last seal is sealed');
}

function describe(result: SealResult): string {
  if (!result.sealed) return `nothing to seal: ${result.reason} (entries from ${result.from ?? 'the first'} before ${result.to})`;
  const { record } = result;
  return `sealed ${record.count} entries (${record.first.timestamp} id ${record.first.id} to ${record.last.timestamp} id ${record.last.id}) as ${sealFileName(record.seq)}: sha256 ${record.hash}`;
}
