import { join } from 'node:path';
import type { CliIo } from '../../io.js';
import { UsageError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { withAuditTable, type AuditTable } from '../../db/session.js';
import type { OpenPool } from '../../db/pool.js';
import { closeOnFailure } from '../../seal/before-connecting.js';
import type { Position } from '../../domain.js';
import { countUnsealed, isRowSecurityActive, streamSealedLeaves, type EraFrom, type Unsealed } from '../../queries/verify.js';
import { parseLeaf, type SealedEntry } from '../../seal/canonical.js';
import { SealRowHasher } from '../../seal/row-hasher.js';
import { compareRange, EntryCursor, skipRange, type ArchivedEntry, type Problem, type PruneReach } from '../../seal/compare.js';
import { readTrustedKey, type TrustedKey } from '../../seal/keys.js';
import { hasValidSignature, PRUNE_FORMAT, SEAL_FORMAT, SEAL_FORMAT_V1, type SealRecord } from '../../seal/record.js';
import { checkStore, LeavesError, listStore, readLeaves, readStoreJson, sealFileName, StoreFileError } from '../../seal/store.js';
import { explainPermission, rowSecurityError } from '../../seal/permission.js';
import { auditTableName } from '../../seal/table-name.js';
import { readArchives } from '../../seal/archives.js';
import { formatVerifyReport } from './report.js';
import { NotIntactError, type SealCheck, type VerifyReport } from '../../seal/verify-report.js';

export interface VerifyOptions {
  store: string;
  publicKey: string;
  archives: string[];
  json: boolean;
  /** --unsealed-max-age: an entry older than this and not sealed is a problem (seals stopped, or were removed). */
  unsealedMaxAgeSeconds?: number;
}

/** Recomputes every seal range from the database (and archives, for pruned entries) and reports; exit 4 unless intact. */
export async function runVerify(options: VerifyOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  const key = await closeOnFailure(early, () => readTrustedKey(options.publicKey));
  await closeOnFailure(early, () => checkStore(options.store));
  const report = await withAuditTable(config, async (table) => {
    const { columns } = table.mapping;
    const archived = await readArchives(options.archives, { sourceIp: columns.source_ip?.type, states: [columns.before?.type, columns.after?.type] });
    return verifyStore(table, options, key, archived).catch((error: unknown) => {
      throw explainPermission(error, auditTableName(table.mapping), 'verify');
    });
  }, { early, activity: 'verify' });
  io.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatVerifyReport(report));
  if (!report.intact) {
    const bad = report.seals.filter((seal) => seal.status !== 'intact').length;
    throw new NotIntactError(`verify: ${bad} of ${report.seals.length} seal ranges not intact${report.problems.length > 0 ? `, ${report.problems.length} other problem(s)` : ''} (see the report above)`);
  }
}

async function verifyStore(table: AuditTable, options: VerifyOptions, key: TrustedKey, archived: Map<string, ArchivedEntry>): Promise<VerifyReport> {
  const tableName = auditTableName(table.mapping);
  if (await isRowSecurityActive(table.db, table.mapping)) throw rowSecurityError(tableName, 'verify');
  const listing = await listStore(options.store);
  if (listing.seals.size === 0) throw new UsageError(`--store '${options.store}' holds no seal files (seal-*.json); nothing to verify`);
  const records = new Map<number, SealRecord>();
  const checks: SealCheck[] = [];
  const blank = (seq: number, file: string): SealCheck => ({ seq, file, status: 'intact', from: null, to: null, count: null, present: 0, pruned: 0, archived: 0, problems: [] });
  let expected = 1;
  for (const [seq, name] of [...listing.seals].sort(([a], [b]) => a - b)) {
    if (seq > expected) {
      // One line for a run of missing numbers, however long: a stray seal-99999999999.json must not make verify count to it.
      const file = seq - 1 > expected ? `${sealFileName(expected)} to ${sealFileName(seq - 1)}` : sealFileName(expected);
      const detail = seq - 1 > expected ? `${seq - expected} seal files are gone from the store; their ranges cannot be checked` : 'the file is gone from the store; its range cannot be checked';
      checks.push({ ...blank(expected, file), status: 'missing', problems: [{ kind: 'missing-seal-file', file, detail }] });
    }
    expected = seq + 1;
    const check = blank(seq, sealFileName(seq));
    checks.push(check);
    const record = await readSealRecord(options.store, name, tableName, seq);
    if (typeof record === 'string') {
      check.status = 'unverifiable';
      check.problems.push({ kind: 'record-invalid', file: name, detail: record });
      continue;
    }
    records.set(seq, record as unknown as SealRecord);
    if (record.key_id !== key.keyId || !hasValidSignature(record, key)) {
      check.problems.push({ kind: 'bad-signature', file: name, detail: record.key_id === key.keyId ? 'the signature does not match the record: it was edited' : `signed by key ${String(record.key_id)}, not by --public-key (${key.keyId})` });
    }
  }
  const { cutoff, prunes, problems } = await readPruneCutoff(options.store, listing.prunes, key, tableName);
  const upTo = [...records.values()].at(-1)?.to;
  if (upTo === undefined) return notChecked(tableName, options, key, checks, problems, await readUnsealed(table, undefined, options, problems));
  const eraFrom = eraFromOf(records);
  const database = new EntryCursor(readLeafLines(new SealRowHasher(), (hasher) => streamSealedLeaves(table.db, table.mapping, upTo, hasher, eraFrom)));
  let before: Position | null = null;
  let previousHash: string | undefined;
  for (const check of checks) {
    const record = check.status === 'missing' ? undefined : records.get(check.seq);
    if (!record) {
      // The range of a missing seal ends where the next readable one starts.
      const next = [...records.entries()].find(([n]) => n > check.seq)?.[1];
      check.present = await skipRange(database, next?.from ?? undefined);
      previousHash = undefined;
      continue;
    }
    const seq = check.seq;
    Object.assign(check, { from: record.from, to: record.to, count: record.count });
    if (previousHash !== undefined && record.previous_hash !== previousHash) {
      check.problems.push({ kind: 'chain-broken', file: check.file, detail: `previous_hash is not the hash of ${sealFileName(seq - 1)}` });
    }
    const sha256: { value?: string } = {};
    try {
      const result = await compareRange(readLeaves(join(options.store, record.leaves_file), sha256), database, record.to, {
        prunes, archived, previousHash: record.previous_hash, before, lateCommitGuard: String(record.late_commit_guard),
      });
      check.problems.push(...result.problems);
      Object.assign(check, { present: result.present, pruned: result.pruned, archived: result.archived });
      before = result.last;
      if (sha256.value !== record.leaves_sha256) check.problems.push({ kind: 'leaves-altered', file: record.leaves_file, detail: 'the file is not the one the seal signed (its SHA-256 differs)' });
      else if (result.leaves !== record.count) check.problems.push({ kind: 'chain-broken', file: check.file, detail: `the record counts ${record.count} entries, its leaves ${result.leaves}` });
      else if (result.hash !== record.hash) check.problems.push({ kind: 'chain-broken', file: check.file, detail: 'the leaves do not chain to the signed hash' });
    } catch (error) {
      if (!(error instanceof LeavesError)) throw error;
      check.problems.push({ kind: 'leaves-unreadable', file: record.leaves_file, detail: (error as Error).message });
      check.present = await skipRange(database, record.to);
      check.status = 'unverifiable';
    }
    previousHash = record.hash;
  }
  for (const check of checks) if (check.status === 'intact' && check.problems.length > 0) check.status = 'tampered';
  const unsealed = await readUnsealed(table, upTo, options, problems);
  const seals = checks;
  return {
    intact: problems.length === 0 && seals.every((seal) => seal.status === 'intact'),
    table: tableName,
    store: options.store,
    key_id: key.keyId,
    seals,
    prune_cutoff: cutoff,
    problems,
    unsealed: unsealed.count,
    oldest_unsealed: unsealed.oldest,
  };
}

/** A store file that cannot be read or parsed, as the problem's detail; any other error is thrown on. */
function unlessStoreFileError(error: unknown): string {
  if (error instanceof StoreFileError) return error.message;
  throw error;
}

/** The report when no seal record can be read: every seal unverifiable, every entry unsealed. */
function notChecked(table: string, options: VerifyOptions, key: TrustedKey, seals: SealCheck[], problems: Problem[], unsealed: Unsealed): VerifyReport {
  return { intact: false, table, store: options.store, key_id: key.keyId, seals, prune_cutoff: null, problems, unsealed: unsealed.count, oldest_unsealed: unsealed.oldest };
}

/**
 * The entries after the newest seal. With --unsealed-max-age, any older than that is a problem: removing the newest
 * seal files otherwise looks like seals that have not run yet.
 */
async function readUnsealed(table: AuditTable, from: string | undefined, options: VerifyOptions, problems: Problem[]): Promise<Unsealed> {
  const age = options.unsealedMaxAgeSeconds;
  const unsealed = await countUnsealed(table.db, table.mapping, from, age);
  if (age !== undefined && unsealed.olderThanAge > 0) {
    problems.push({
      kind: 'unsealed-too-old',
      count: unsealed.olderThanAge,
      oldest: unsealed.oldest,
      detail: `${unsealed.olderThanAge} entries written more than --unsealed-max-age ago are not sealed (the oldest at ${unsealed.oldest ?? 'an unprintable time'}): seal has stopped, or the newest seal files were removed`,
    });
  }
  return unsealed;
}

/** The end of the leading seals made with the first encoding (BC years without their era), or null: see EraFrom. */
function eraFromOf(records: Map<number, SealRecord>): EraFrom {
  let from: EraFrom = null;
  for (const record of records.values()) {
    if (record.format !== SEAL_FORMAT_V1) break;
    from = record.to;
  }
  return from;
}

/** A seal file's record, or why it cannot be used as one. */
async function readSealRecord(store: string, name: string, tableName: string, seq: number): Promise<Record<string, unknown> | string> {
  const record = await readStoreJson(store, name).catch(unlessStoreFileError);
  return typeof record === 'string' ? record : (recordProblem(record, tableName, seq) ?? record);
}

/** Why a seal file cannot be used as a record at all, or undefined. */
function recordProblem(record: Record<string, unknown>, tableName: string, seq: number): string | undefined {
  if (record.format !== SEAL_FORMAT && record.format !== SEAL_FORMAT_V1) return `not a ${SEAL_FORMAT} (or ${SEAL_FORMAT_V1}) record`;
  if (record.table !== tableName) return `seals table ${String(record.table)}, not ${tableName}`;
  // Signed, so a record under another number was renamed: the chain check alone would blame its neighbour.
  if (record.seq !== seq) return `it is seal ${String(record.seq)}, renamed to ${sealFileName(seq)}`;
  for (const field of ['to', 'hash', 'previous_hash', 'leaves_file', 'leaves_sha256'] as const) {
    if (typeof record[field] !== 'string') return `its ${field} is missing`;
  }
  if (record.from !== null && typeof record.from !== 'string') return 'its from is missing';
  if (typeof record.leaves_file === 'string' && (record.leaves_file.includes('/') || record.leaves_file.startsWith('.'))) return 'its leaves_file is not a file name in the store';
  return undefined;
}

/** The validly signed prune records of this table (and the latest cutoff, for the report); any other is a problem. */
async function readPruneCutoff(store: string, files: string[], key: TrustedKey, tableName: string): Promise<{ cutoff: string | null; prunes: PruneReach[]; problems: Problem[] }> {
  let cutoff: string | null = null;
  const prunes: PruneReach[] = [];
  const problems: Problem[] = [];
  for (const file of files) {
    const record = await readStoreJson(store, file).catch(unlessStoreFileError);
    if (typeof record === 'string') {
      problems.push({ kind: 'record-invalid', file, detail: record });
    } else if (record.format !== PRUNE_FORMAT || record.table !== tableName || typeof record.cutoff !== 'string' || !isReach(record.up_to)) {
      problems.push({ kind: 'record-invalid', file, detail: `not a ${PRUNE_FORMAT} record of ${tableName}` });
    } else if (record.key_id !== key.keyId || !hasValidSignature(record, key)) {
      problems.push({ kind: 'bad-signature', file, detail: 'a prune record not signed by --public-key: its cutoff is not trusted' });
    } else {
      prunes.push({ cutoff: record.cutoff, upTo: record.up_to });
      if (cutoff === null || record.cutoff > cutoff) cutoff = record.cutoff;
    }
  }
  return { cutoff, prunes, problems };
}

/** A prune record's up_to: absent, or a position. */
function isReach(value: unknown): value is Position | undefined {
  const position = value as Partial<Position> | undefined;
  return value === undefined || (typeof position?.timestamp === 'string' && typeof position.id === 'string');
}

/** The database's entries as leaves, from the lines SealRowHasher builds. */
async function* readLeafLines(hasher: SealRowHasher, stream: (hasher: SealRowHasher) => AsyncGenerator<string[]>) {
  const parse = () => hasher.takeLines().toString('utf8').split('\n').filter((line) => line !== '').map((line) => parseLeaf(line) as SealedEntry);
  for await (const _ of stream(hasher)) yield parse();
  yield parse();
}
