import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CANONICAL_FIELDS } from '../entry.js';
import type { Position } from '../entry.js';
import { GENESIS_HASH, SealChain } from './canonical.js';

const FIELDS = CANONICAL_FIELDS.length;
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const COLON = 0x3a;
const COMMA = 0x2c;
const NULL_PIECE = Buffer.from('-,');
const EMPTY = Buffer.alloc(0);

/**
 * Reads a binary COPY of the eleven canonical fields as text (queries/seal.ts) and, row by row as the bytes arrive,
 * builds each entry's canonical encoding (docs/decisions/005-seal-canonical-encoding.md), its SHA-256, the field
 * CRCs, and the chain; hands on each entry's leaf line (`[id, timestamp, hash, fields]`, UTF-8) as a COPY value.
 * Binary COPY already frames each value with its length, so the server only casts to text and nothing is parsed
 * here but lengths. Rows cut across messages wait, as bytes, for the rest.
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
  private scratch = Buffer.allocUnsafe(64 * 1024);
  private readonly crcs = Buffer.allocUnsafe(FIELDS * 4);
  private readonly starts = new Int32Array(FIELDS);
  private readonly lengths = new Int32Array(FIELDS);
  private readonly pieces = new Int32Array(FIELDS + 1);
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
    let size = 0;
    for (let i = 0; i < FIELDS; i += 1) {
      if (chunk.length - p < 4) return -(p + 4 - at);
      const length = chunk.readInt32BE(p);
      this.starts[i] = p + 4;
      this.lengths[i] = length;
      p += 4 + Math.max(length, 0);
      size += Math.max(length, 0) + 12;
    }
    if (p > chunk.length) return -(p - at);
    this.hashRow(chunk, size);
    return p;
  }

  private hashRow(chunk: Buffer, size: number): void {
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(size * 2);
    const out = this.scratch;
    let n = 0;
    for (let i = 0; i < FIELDS; i += 1) {
      this.pieces[i] = n;
      const length = this.lengths[i] as number;
      if (length < 0) {
        NULL_PIECE.copy(out, n);
        n += 2;
        continue;
      }
      n += out.write(String(length), n, 'latin1');
      out[n++] = COLON;
      const start = this.starts[i] as number;
      n += chunk.copy(out, n, start, start + length);
      out[n++] = COMMA;
    }
    this.pieces[FIELDS] = n;
    const entryHash = hash('sha256', out.subarray(0, n), 'buffer') as unknown as Buffer;
    this.chain.add(entryHash);
    for (let i = 0; i < FIELDS; i += 1) this.crcs.writeUInt32BE(crc32(out.subarray(this.pieces[i], this.pieces[i + 1])), i * 4);
    const [idLength, tsLength] = [this.lengths[0] as number, this.lengths[1] as number];
    if (idLength < 0 || tsLength < 0) throw new Error('an entry without an id or a timestamp cannot be sealed');
    const id = chunk.toString('utf8', this.starts[0], (this.starts[0] as number) + idLength);
    const timestamp = chunk.toString('latin1', this.starts[1], (this.starts[1] as number) + tsLength);
    this.first ??= { id, timestamp };
    this.last = { id, timestamp };
    this.count += 1;
    const text = `[${JSON.stringify(id)},"${timestamp}","${entryHash.toString('hex')}","${this.crcs.toString('hex')}"]\n`;
    if (this.lines.length - this.linesLength < text.length * 3) {
      const grown = Buffer.allocUnsafe(Math.max(this.lines.length * 2, this.linesLength + text.length * 3));
      this.lines.copy(grown, 0, 0, this.linesLength);
      this.lines = grown;
    }
    this.linesLength += this.lines.write(text, this.linesLength, 'utf8');
  }

  /** The leaf lines built since the last call, as bytes. */
  takeLines(): Buffer {
    const taken = Buffer.from(this.lines.subarray(0, this.linesLength));
    this.linesLength = 0;
    return taken;
  }

  private keep(chunk: Buffer, at: number, need: number): void {
    const rest = Buffer.from(chunk.subarray(at));
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.need = need;
  }
}

/** Where the rows start, or undefined when `chunk` does not hold the whole header yet. */
function headerEnd(chunk: Buffer): number | undefined {
  const fixed = SIGNATURE.length + 8;
  if (chunk.length < fixed) return undefined;
  if (!chunk.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('COPY data: not in binary format');
  const extension = chunk.readUInt32BE(SIGNATURE.length + 4);
  return chunk.length < fixed + extension ? undefined : fixed + extension;
}
