/**
 * Recycles body buffers between batches. V8 frees a Buffer's memory only when it collects the Buffer object, and
 * lets up to ~64 MB of such external memory pile up first; reusing a handful of buffers keeps that out of the RSS.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep = 8) {}

  /** A buffer of at least `size` bytes (rounded up to 64 KiB so that buffers fit the next batch too). */
  take(size: number): Buffer {
    const index = this.free.findIndex((buffer) => buffer.length >= size);
    if (index >= 0) return this.free.splice(index, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(Math.ceil(size / 65_536) * 65_536);
  }

  /** Hands `buffer` back; the caller must not touch it again. */
  give(buffer: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buffer);
  }
}

/**
 * Accumulates a request body (or a file chunk) as UTF-8 bytes. Writing each piece straight into one buffer is
 * about twice as fast on Node 20 as concatenating a large string that undici would then convert, and leaves no
 * megabyte strings for the garbage collector.
 */
export class BodyBuilder {
  private buffer: Buffer;
  private length = 0;
  private released = false;

  /** `estimate`: expected size in bytes (or string lengths); the buffer grows as needed. */
  constructor(
    estimate: number,
    private readonly pool: BufferPool = new BufferPool(0),
  ) {
    this.buffer = pool.take(Math.max(1024, Math.ceil(estimate * 1.1)));
  }

  add(text: string): void {
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length);
  }

  /** A byte string (src/byte-string.ts): its bytes, copied as they are. */
  addBytes(bytes: string): void {
    this.reserve(bytes.length);
    this.length += this.buffer.write(bytes, this.length, 'latin1');
  }

  /**
   * Characters `start` to `end` of a byte string (or of ASCII text). A loop for a short piece, where a call into C++
   * cost more than copying it here; `write` of a slice for a longer one (an HEC head's run of fields: 0.07-0.13 µs
   * less an event on the small bench rows).
   */
  addRange(bytes: string, start: number, end: number): void {
    this.reserve(end - start);
    if (end - start > 24) {
      this.length += this.buffer.write(bytes.slice(start, end), this.length, 'latin1');
      return;
    }
    const { buffer } = this;
    let at = this.length;
    for (let i = start; i < end; i += 1) buffer[at++] = bytes.charCodeAt(i);
    this.length = at;
  }

  /** Bytes as they are (a constant piece, encoded once): one native copy however long. */
  addBuffer(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** {@link epochSeconds} of `ms`, its digits written here: no string made for each event's time. */
  addEpochSeconds(ms: number): void {
    const whole = Math.round(ms);
    const seconds = Math.floor(whole / 1000);
    // Small integer arithmetic only (until 2038): `%` on larger numbers is a call to fmod in V8.
    if (whole < 0 || seconds > INT32_MAX) {
      this.addBytes(epochSeconds(ms));
      return;
    }
    const fraction = whole - seconds * 1000;
    let digits = 1;
    for (let rest = seconds; rest >= 10; rest = (rest / 10) | 0) digits += 1;
    this.reserve(digits + 4);
    const { buffer } = this;
    let at = this.length + digits;
    for (let rest = seconds | 0; at > this.length; rest = (rest / 10) | 0) buffer[--at] = ZERO + (rest % 10);
    at = this.length + digits;
    buffer[at] = DOT;
    buffer[at + 1] = ZERO + ((fraction / 100) | 0);
    buffer[at + 2] = ZERO + (((fraction / 10) | 0) % 10);
    buffer[at + 3] = ZERO + (fraction % 10);
    this.length = at + 4;
  }

  private reserve(size: number): void {
    if (this.length + size <= this.buffer.length) return;
    const bigger = this.pool.take(Math.max(this.buffer.length * 2, this.length + size));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.pool.give(this.buffer);
    this.buffer = bigger;
  }

  /** The bytes written so far (a view, not a copy), valid until `release`. */
  bytes(): Buffer {
    if (this.released) throw new Error('BodyBuilder: bytes() after release()');
    return this.buffer.subarray(0, this.length);
  }

  /**
   * Returns the buffer to the pool. Call it only once nothing can read the bytes any more: after gzip consumed
   * them, after a file write completed, or after the server answered 2xx (it has then read the whole body).
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.give(this.buffer);
  }
}

const ZERO = 0x30;
const DOT = 0x2e;
const INT32_MAX = 2 ** 31 - 1;

/** Sum of the entries' JSON sizes in bytes: the basis of a body size estimate. */
export function jsonLength(records: readonly { jsonBytes: string }[]): number {
  let total = 0;
  for (const record of records) total += record.jsonBytes.length;
  return total;
}

/** Characters JSON must escape, plus surrogates (left to JSON.stringify, which escapes lone ones). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(text)` for a string, about twice as fast for the common case of nothing to escape. */
export function quoteJson(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Epoch milliseconds as epoch seconds with exactly three decimals (`1764096889.014`), without `toFixed`. */
export function epochSeconds(ms: number): string {
  const whole = Math.round(ms);
  if (whole < 0 || !Number.isSafeInteger(whole)) return (ms / 1000).toFixed(3);
  const fraction = whole % 1000;
  return `${(whole - fraction) / 1000}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
}
