import { createHash, type Hash } from 'node:crypto';
import { CANONICAL_FIELDS, type CanonicalField } from '../domain.js';

/**
 * One entry as a seal covers it (docs/decisions/005-seal-canonical-encoding.md): the canonical encoding of its
 * stored values, its SHA-256 (which the chain takes), and a CRC-32 of each field's encoding, which only tells verify
 * WHICH fields changed once the hash says that something did.
 */
export interface SealedEntry {
  id: string;
  timestamp: string;
  /** SHA-256 of the entry's canonical encoding, 64 hex digits. */
  hash: string;
  /** CRC-32 of each field's piece, 8 hex digits each, in CANONICAL_FIELDS order. */
  fields: string;
}

/** What the chain starts from before the first seal: 32 zero bytes. */
export const GENESIS_HASH = '0'.repeat(64);

/** A leaf line, `[id, timestamp, hash, fields]` (JSON text), or undefined when the line is not one. */
export function parseLeaf(line: string): SealedEntry | undefined {
  const value: unknown = JSON.parse(line);
  if (!Array.isArray(value) || value.length !== 4 || !value.every((part) => typeof part === 'string')) return undefined;
  const [id, timestamp, hash, fields] = value as [string, string, string, string];
  return { id, timestamp, hash, fields };
}

/**
 * A seal's hash: SHA-256 of the previous seal's hash (32 bytes) followed by each entry's hash (32 bytes each) in
 * (timestamp, id) order. One running hash per seal: each seal still covers every seal before it.
 */
export class SealChain {
  private readonly hash: Hash;
  constructor(previousHash: string = GENESIS_HASH) {
    this.hash = createHash('sha256').update(Buffer.from(previousHash, 'hex'));
  }

  add(entryHash: Buffer | string): void {
    this.hash.update(typeof entryHash === 'string' ? Buffer.from(entryHash, 'hex') : entryHash);
  }

  /** The seal's hash, hex; ends the chain. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Fields whose CRC-32 differs between two field digests of the same entry, in CANONICAL_FIELDS order. */
export function changedFields(expected: string, actual: string): CanonicalField[] {
  return CANONICAL_FIELDS.filter((_, i) => expected.slice(i * 8, i * 8 + 8) !== actual.slice(i * 8, i * 8 + 8));
}

const ERA = ' BC';

/**
 * Orders two leaf timestamps in time: `-infinity`, then BC (`0044-03-15T...Z BC`, the larger year first), then AD,
 * then `infinity`. ISO text of one length sorts as text, which is the common case and the fast path.
 */
export function compareSealTimes(a: string, b: string): number {
  if (a.length === b.length && !a.endsWith(ERA) && !b.endsWith(ERA)) return a < b ? -1 : a > b ? 1 : 0;
  const [x, y] = [timeKey(a), timeKey(b)];
  for (let i = 0; i < 3; i += 1) {
    const [p, q] = [x[i] as number | string, y[i] as number | string];
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/** [rank, year in time order, the rest]: rank 0 `-infinity`, 1 BC, 2 AD, 3 `infinity`. */
function timeKey(text: string): [number, number, string] {
  if (text === '-infinity') return [0, 0, ''];
  if (text === 'infinity') return [3, 0, ''];
  const dash = text.indexOf('-');
  const year = Number(text.slice(0, dash));
  return text.endsWith(ERA) ? [1, -year, text.slice(dash, -ERA.length)] : [2, year, text.slice(dash)];
}
