/**
 * Splits PostgreSQL's binary COPY format into the values of its single column, across messages cut anywhere. The
 * format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"): an 11-byte signature, a 32-bit
 * flags field and a 32-bit header extension length (then that many bytes); each row a 16-bit field count, then per
 * field a 32-bit length (-1 for NULL) and that many bytes; a field count of -1 ends the data. A text value's bytes
 * in binary format are its text in the connection's encoding (UTF-8): nothing is escaped.
 */
export class CopyBinaryReader {
  /**
   * With `fill`, each row is two columns: a timestamp's eight bytes (or NULL), then the value, which `fill` may
   * rewrite in place (src/db/timestamp-fill.ts) before it is handed on. The rows come whole in one message each
   * (PostgreSQL sends a row a message, pg hands messages over whole); a row cut anyway is kept until it is whole.
   */
  constructor(private readonly fill?: (buffer: Buffer, start: number, end: number, valueAt: number) => void) {}

  /** Bytes of the header or of a row prefix (field count and length) that a message cut short. */
  private prefix: Buffer = Buffer.alloc(0);
  /** A value that a message cut short, filled up to `filled`. */
  private partial: Buffer | undefined;
  private filled = 0;
  private headerRead = false;
  private ended = false;

  /**
   * Reads `chunk`, calling `onValue` with each value it completes: bytes `start` to `end` of `buffer`, valid during
   * the call only (`buffer` is `chunk` itself where the value lies whole in it).
   */
  push(chunk: Buffer, onValue: (buffer: Buffer, start: number, end: number) => void): void {
    let at = 0;
    if (this.partial) at = this.fillPartial(chunk, onValue);
    if (this.prefix.length > 0) {
      chunk = Buffer.concat([this.prefix, chunk.subarray(at)]);
      this.prefix = Buffer.alloc(0);
      at = 0;
    }
    if (!this.headerRead) {
      const end = headerEnd(chunk, at);
      if (end === undefined) return this.keep(chunk, at);
      this.headerRead = true;
      at = end;
    }
    while (at < chunk.length) {
      if (this.ended) throw new Error('COPY data: bytes after the end marker');
      if (chunk.length - at < 2) return this.keep(chunk, at);
      const fields = chunk.readInt16BE(at);
      if (fields === -1) {
        this.ended = true;
        at += 2;
        continue;
      }
      if (this.fill !== undefined) {
        const next = this.filledRow(chunk, at, fields, onValue);
        if (next < 0) return this.keep(chunk, at);
        at = next;
        continue;
      }
      if (fields !== 1) throw new Error(`COPY data: expected 1 column, got ${fields}`);
      if (chunk.length - at < 6) return this.keep(chunk, at);
      const length = chunk.readInt32BE(at + 2);
      if (length < 0) throw new Error('COPY data: unexpected NULL value');
      const start = at + 6;
      if (chunk.length - start < length) {
        this.partial = Buffer.allocUnsafe(length);
        this.filled = chunk.copy(this.partial, 0, start);
        return;
      }
      onValue(chunk, start, start + length);
      at = start + length;
    }
  }

  /** Whether the end marker was read: without it the data was cut short. */
  get complete(): boolean {
    return this.ended && this.partial === undefined && this.prefix.length === 0;
  }

  /** The two-column row at `at` handed on after {@link fill}; where the next row starts, or -1 if the row is cut. */
  private filledRow(chunk: Buffer, at: number, fields: number, onValue: (buffer: Buffer, start: number, end: number) => void): number {
    if (fields !== 2) throw new Error(`COPY data: expected 2 columns, got ${fields}`);
    if (chunk.length - at < 6) return -1;
    const timeLength = chunk.readInt32BE(at + 2);
    if (timeLength !== 8 && timeLength !== -1) throw new Error(`COPY data: a timestamp of ${timeLength} bytes`);
    const lengthAt = at + 6 + Math.max(timeLength, 0);
    if (chunk.length - lengthAt < 4) return -1;
    const length = chunk.readInt32BE(lengthAt);
    if (length < 0) throw new Error('COPY data: unexpected NULL value');
    const start = lengthAt + 4;
    if (chunk.length - start < length) return -1;
    this.fill?.(chunk, start, start + length, timeLength < 0 ? -1 : at + 6);
    onValue(chunk, start, start + length);
    return start + length;
  }

  private fillPartial(chunk: Buffer, onValue: (buffer: Buffer, start: number, end: number) => void): number {
    const partial = this.partial as Buffer;
    const taken = chunk.copy(partial, this.filled, 0, Math.min(chunk.length, partial.length - this.filled));
    this.filled += taken;
    if (this.filled === partial.length) {
      this.partial = undefined;
      onValue(partial, 0, partial.length);
    }
    return taken;
  }

  private keep(chunk: Buffer, at: number): void {
    this.prefix = Buffer.from(chunk.subarray(at));
  }
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Where the rows start, or undefined when `chunk` does not hold the whole header yet. */
function headerEnd(chunk: Buffer, at: number): number | undefined {
  const fixed = SIGNATURE.length + 8;
  if (chunk.length - at < fixed) return undefined;
  if (!chunk.subarray(at, at + SIGNATURE.length).equals(SIGNATURE)) throw new Error('COPY data: not in binary format');
  const extension = chunk.readUInt32BE(at + SIGNATURE.length + 4);
  return chunk.length - at < fixed + extension ? undefined : at + fixed + extension;
}
