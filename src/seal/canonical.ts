import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CANONICAL_FIELDS, type CanonicalField } from '../entry.js';
import { fromByteString } from '../byte-string.js';

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

const COLON = 0x3a;
const COMMA = 0x2c;
const DASH = 0x2d;

/**
 * Reads one entry's canonical encoding (a byte string, src/byte-string.ts): for each field in CANONICAL_FIELDS
 * order, `<byte length>:<UTF-8 bytes>,`, or `-,` for NULL. Throws on anything else: the server built it.
 */
export function readSealedEntry(encoding: string): SealedEntry {
  const bytes = Buffer.from(encoding, 'latin1');
  const crcs: string[] = [];
  const values: (string | null)[] = [];
  let at = 0;
  for (let field = 0; field < CANONICAL_FIELDS.length; field += 1) {
    const start = at;
    let value: string | null = null;
    if (bytes[at] === DASH) {
      at += 1;
    } else {
      let length = 0;
      while (bytes[at] !== COLON) {
        const digit = (bytes[at] ?? -1) - 0x30;
        if (digit < 0 || digit > 9) throw new Error(`malformed canonical encoding at byte ${at}`);
        length = length * 10 + digit;
        at += 1;
      }
      // Only id and timestamp are read back as text; the rest is hashed as bytes.
      if (field < 2) value = fromByteString(encoding.slice(at + 1, at + 1 + length));
      at += 1 + length;
    }
    if (bytes[at] !== COMMA) throw new Error(`malformed canonical encoding at byte ${at}`);
    at += 1;
    crcs.push(crc32(bytes.subarray(start, at)).toString(16).padStart(8, '0'));
    values.push(value);
  }
  if (at !== bytes.length) throw new Error('canonical encoding has trailing bytes');
  const [id, timestamp] = values;
  if (id == null || timestamp == null) throw new Error('an entry without an id or a timestamp cannot be sealed');
  return { id, timestamp, hash: createHash('sha256').update(bytes).digest('hex'), fields: crcs.join('') };
}

/** The chain's next link: SHA-256 of the previous link's 32 bytes followed by the entry hash's 32 bytes. */
export function chainStep(previous: string, entryHash: string): string {
  return createHash('sha256').update(Buffer.from(previous + entryHash, 'hex')).digest('hex');
}

/** Fields whose CRC-32 differs between two field digests of the same entry, in CANONICAL_FIELDS order. */
export function changedFields(expected: string, actual: string): CanonicalField[] {
  return CANONICAL_FIELDS.filter((_, i) => expected.slice(i * 8, i * 8 + 8) !== actual.slice(i * 8, i * 8 + 8));
}
