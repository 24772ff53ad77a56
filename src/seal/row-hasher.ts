import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CANONICAL_FIELDS } from '../domain.js';
import type { Position } from '../domain.js';
import { GENESIS_HASH, SealChain } from './canonical.js';
import { RuntimeError } from '../errors.js';

const FIELDS = CANONICAL_FIELDS.length;
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const EMPTY = Buffer.alloc(0);
/** Fields shorter than this get their CRC from the loop below: cheaper than a native call and a view for each. */
const NATIVE_CRC_FROM = 64;
const CRC_TABLE = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
const HEX = Array.from({ length: 256 }, (_, n) => n.toString(16).padStart(2, '0'));
const HEX_CODES = HEX.map((pair) => [pair.charCodeAt(0), pair.charCodeAt(1)] as const);

/** CRC-32 (zlib's) of `bytes[start, end)`, computed in place. */
export function crc32Of(bytes: Buffer, start: number, end: number): number {
  if (end - start >= NATIVE_CRC_FROM) return crc32(bytes.subarray(start, end));
  let c = -1;
  for (let i = start; i < end; i += 1) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * Reads a binary COPY of the eleven canonical fields as text (queries/seal.ts) and, row by row as the bytes arrive,
 * hashes each entry's canonical encoding (docs/decisions/005-seal-canonical-encoding.md) where it lies in the
 * message: binary COPY frames each value with its 32-bit length (-1 for NULL), which is the encoding, so nothing is
 * copied or parsed but lengths. Keeps the seal's running hash and the field CRCs, and builds each entry's leaf line
 * (`[id, timestamp, hash, fields]`, UTF-8) for takeLines(). Rows cut across messages wait, as bytes, for the rest.
 */
export class SealRowHasher {
  count = 0;
  first: Position | undefined;
  last: Position | undefined;
  private readonly chain: SealChain;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the row at the head of `pending` needs at least before it is worth trying again. */
  private need = 0;
  private headerRead = false;
  private ended = false;
  private readonly starts = new Int32Array(FIELDS);
  private readonly lengths = new Int32Array(FIELDS);
  /** Leaf lines built and not taken yet (UTF-8, each ending in a newline). */
  private lines = Buffer.allocUnsafe(256 * 1024);
  private linesLength = 0;

  constructor(previousHash: string = GENESIS_HASH) {
    this.chain = new SealChain(previousHash);
  }

  /** The seal's hash over the entries read; call once, at the end. */
  digest(): string {
    return this.chain.digest();
  }

  get complete(): boolean {
    return this.ended && this.pendingBytes === 0;
  }

  push(chunk: Buffer, onValue: (buffer: Buffer, start: number, end: number) => void): void {
    if (this.pendingBytes > 0) {
      // The chunk is a view of the socket's buffer: keep a copy until the row it ends is whole.
      this.pending.push(Buffer.from(chunk));
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.need) return;
      chunk = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let at = 0;
    if (!this.headerRead) {
      const end = headerEnd(chunk);
      if (end === undefined) return this.keep(chunk, 0, SIGNATURE.length + 8);
      this.headerRead = true;
      at = end;
    }
    while (at < chunk.length) {
      if (this.ended) throw new Error('COPY data: bytes after the end marker');
      const end = this.readRow(chunk, at);
      if (end < 0) return this.keep(chunk, at, -end);
      // The value only counts rows for COPY's flow control; the lines wait in `lines` for takeLines().
      if (!this.ended) onValue(EMPTY, 0, 0);
      at = end;
    }
  }

  /** The leaf lines built since the last call, as bytes. */
  takeLines(): Buffer {
    const taken = Buffer.from(this.lines.subarray(0, this.linesLength));
    this.linesLength = 0;
    return taken;
  }

  /** Reads the row at `at`: returns where it ends, or minus the bytes it needs from `at` when the chunk cuts it. */
  private readRow(chunk: Buffer, at: number): number {
    if (chunk.length - at < 2) return -2;
    const fields = chunk.readInt16BE(at);
    if (fields === -1) {
      this.ended = true;
      return at + 2;
    }
    if (fields !== FIELDS) throw new Error(`COPY data: expected ${FIELDS} columns, got ${fields}`);
    let p = at + 2;
    for (let i = 0; i < FIELDS; i += 1) {
      if (chunk.length - p < 4) return -(p + 4 - at);
      const length = chunk.readInt32BE(p);
      this.starts[i] = p + 4;
      this.lengths[i] = length;
      p += 4 + Math.max(length, 0);
    }
    if (p > chunk.length) return -(p - at);
    this.hashRow(chunk, at + 2, p);
    return p;
  }

  /** The entry is `chunk[start, end)`: its fields as binary COPY framed them. */
  private hashRow(chunk: Buffer, start: number, end: number): void {
    const [idLength, tsLength] = [this.lengths[0] as number, this.lengths[1] as number];
    if (idLength < 0 || tsLength < 0) {
      const at = tsLength < 0 ? 'without a timestamp' : `at ${chunk.toString('latin1', this.starts[1] as number, (this.starts[1] as number) + tsLength)}`;
      throw new RuntimeError(`an entry ${at} has no id (NULL): seal and verify match entries by id; give it one or remove it, then run again`);
    }
    const entryHash = hash('sha256', chunk.subarray(start, end), 'buffer') as unknown as Buffer;
    this.chain.add(entryHash);
    const [idStart, tsStart] = [this.starts[0] as number, this.starts[1] as number];
    const id = chunk.toString('utf8', idStart, idStart + idLength);
    const timestamp = chunk.toString('latin1', tsStart, tsStart + tsLength);
    this.first ??= { id, timestamp };
    this.last = { id, timestamp };
    this.count += 1;
    this.writeLine(chunk, id, entryHash);
  }

  /** `["id","timestamp","hash","fields"]\n`, written byte by byte: no string per entry but the id's and timestamp's. */
  private writeLine(chunk: Buffer, id: string, entryHash: Buffer): void {
    const idText = /^[0-9a-zA-Z_.:-]*$/.test(id) ? `"${id}"` : JSON.stringify(id);
    const room = idText.length * 3 + (this.lengths[1] as number) + 64 + FIELDS * 8 + 16;
    if (this.lines.length - this.linesLength < room) {
      const grown = Buffer.allocUnsafe(Math.max(this.lines.length * 2, this.linesLength + room));
      this.lines.copy(grown, 0, 0, this.linesLength);
      this.lines = grown;
    }
    const out = this.lines;
    let n = this.linesLength;
    out[n++] = 0x5b; // [
    n += out.write(idText, n, 'utf8');
    out[n++] = 0x2c;
    out[n++] = 0x22;
    const tsStart = this.starts[1] as number;
    for (let i = tsStart; i < tsStart + (this.lengths[1] as number); i += 1) out[n++] = chunk[i] as number;
    out[n++] = 0x22;
    out[n++] = 0x2c;
    out[n++] = 0x22;
    for (let i = 0; i < 32; i += 1) n = writeHex(out, n, entryHash[i] as number);
    out[n++] = 0x22;
    out[n++] = 0x2c;
    out[n++] = 0x22;
    for (let i = 0; i < FIELDS; i += 1) {
      // The field as framed: its length too, so NULL (length -1) and '' differ.
      const s = this.starts[i] as number;
      const crc = crc32Of(chunk, s - 4, s + Math.max(this.lengths[i] as number, 0));
      n = writeHex(out, n, crc >>> 24);
      n = writeHex(out, n, (crc >>> 16) & 0xff);
      n = writeHex(out, n, (crc >>> 8) & 0xff);
      n = writeHex(out, n, crc & 0xff);
    }
    out[n++] = 0x22;
    out[n++] = 0x5d; // ]
    out[n++] = 0x0a;
    this.linesLength = n;
  }

  private keep(chunk: Buffer, at: number, need: number): void {
    const rest = Buffer.from(chunk.subarray(at));
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.need = need;
  }
}

function writeHex(out: Buffer, n: number, byte: number): number {
  const [a, b] = HEX_CODES[byte] as readonly [number, number];
  out[n] = a;
  out[n + 1] = b;
  return n + 2;
}

/** Where the rows start, or undefined when `chunk` does not hold the whole header yet. */
function headerEnd(chunk: Buffer): number | undefined {
  const fixed = SIGNATURE.length + 8;
  if (chunk.length < fixed) return undefined;
  if (!chunk.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('COPY data: not in binary format');
  const extension = chunk.readUInt32BE(SIGNATURE.length + 4);
  return chunk.length < fixed + extension ? undefined : fixed + extension;
}
