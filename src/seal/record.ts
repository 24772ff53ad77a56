import type { Position } from '../domain.js';
import { writeJson } from '../output/stable-json.js';
import { signText, verifyText, type SigningKey, type TrustedKey } from './keys.js';

/** The first encoding printed BC timestamps without their era; such seals are still verified with it (decisions/005). */
export const SEAL_FORMAT_V1 = 'api7-audit-seal/1';
/** A BC timestamp's text ends in ` BC`. */
export const SEAL_FORMAT = 'api7-audit-seal/2';
export const PRUNE_FORMAT = 'api7-audit-prune/1';

/** One seal file: a range of entries by time, its hash chain, and the Ed25519 signature over everything else. */
export interface SealRecord {
  format: typeof SEAL_FORMAT | typeof SEAL_FORMAT_V1;
  seq: number;
  /** The audited table, `schema.name`. */
  table: string;
  /** Entries with `from <= timestamp < to` (ISO 8601 UTC, microseconds); `from` is the previous seal's `to`, null for the first. */
  from: string | null;
  to: string;
  count: number;
  first: Position;
  last: Position;
  /** The chain's value before this range: the previous seal's `hash`, or 64 zeros for the first. */
  previous_hash: string;
  /** The chain's value after the range's last entry. */
  hash: string;
  /** The file listing each entry's id, timestamp, hash and field digests, and the SHA-256 of its bytes. */
  leaves_file: string;
  leaves_sha256: string;
  sealed_at: string;
  /** How `to` was bounded against late commits (docs/decisions/001-late-commits.md). */
  late_commit_guard: string;
  key_id: string;
  signature: string;
}

/** Written by `prune --seal-store` before it deletes: entries older than `cutoff` may be gone on purpose. */
export interface PruneRecord {
  format: typeof PRUNE_FORMAT;
  table: string;
  cutoff: string;
  /** With --only-exported: the checkpoint's position; entries after it were kept, whatever their age. */
  up_to?: Position;
  pruned_at: string;
  key_id: string;
  signature: string;
}

type Unsigned<T> = Omit<T, 'signature'>;

/**
 * The bytes a signature covers: the record without `signature` as JSON with keys sorted and no whitespace (Python:
 * `json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`).
 */
export function signedPayload(record: object): string {
  const { signature: _signature, ...signed } = record as { signature?: unknown };
  return writeJson(signed, { indent: 0, sortKeys: true });
}

export function signRecord<T extends { signature: string }>(unsigned: Unsigned<T>, key: SigningKey): T {
  return { ...unsigned, signature: signText(key, signedPayload(unsigned)) } as T;
}

export function hasValidSignature(record: { signature?: unknown }, key: TrustedKey): boolean {
  return typeof record.signature === 'string' && verifyText(key, signedPayload(record), record.signature);
}
