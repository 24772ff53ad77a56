import type { Connection, Pool, Submittable } from 'pg';
import { CopyBinaryReader } from './copy-binary.js';

/** Turns COPY data into values: CopyBinaryReader's one column by default; seal reads rows of its own (seal/row-hasher.ts). */
export interface CopyReader {
  push(chunk: Buffer, onValue: (buffer: Buffer, start: number, end: number) => void): void;
  readonly complete: boolean;
}

/** Values read but not taken yet at which the socket is paused: the server waits instead of Node buffering. */
const PAUSE_AT_VALUES = 500;

/**
 * The values of a one-column SELECT, each as a byte string (its UTF-8 bytes one per character, src/byte-string.ts),
 * a batch of whatever has arrived at a time, through `COPY (select) TO STDOUT (FORMAT binary)` on one connection of
 * `pool`, in a READ ONLY transaction that first runs `settings` (SET LOCAL statements). Against a pg-cursor read of
 * the same query, the server streams without waiting for a FETCH, and the bytes go on to a request body without
 * being decoded to UTF-16 and encoded again. COPY takes no bind parameters: `select` carries its values inline
 * (compileWithInlineValues). Ending early (a failed sink, Ctrl-C) closes the connection, the one way to stop a COPY
 * under way; the server then rolls the transaction back.
 */
export async function* copyOutValues(pool: Pool, select: string, settings: readonly string[] = [], reader: CopyReader = new CopyBinaryReader()): AsyncGenerator<string[]> {
  const client = await pool.connect();
  let clean = false;
  try {
    await client.query('begin transaction read only');
    for (const statement of settings) await client.query(statement);
    const copy = client.query(new CopyOut(`COPY (${select}) TO STDOUT (FORMAT binary)`, reader));
    yield* copy.values();
    await client.query('commit');
    clean = true;
  } finally {
    // Back to the pool after a commit; otherwise closed, so that no COPY or transaction is left open on it.
    client.release(clean ? undefined : true);
  }
}

/**
 * A COPY TO STDOUT run through pg's query queue: pg parses the protocol and hands each CopyData message over (a
 * view of the socket buffer, no copy), and this copies each value out as a byte string at once, so that no socket
 * buffer outlives its message.
 */
class CopyOut implements Submittable {
  private taken: string[] = [];
  private connection: Connection | undefined;
  private paused = false;
  private failure: Error | undefined;
  private finished = false;
  private wake: (() => void) | undefined;
  private readonly collect = (buffer: Buffer, start: number, end: number): void => {
    this.taken.push(buffer.toString('latin1', start, end));
  };

  constructor(private readonly text: string, private readonly reader: CopyReader) {}

  submit(connection: Connection): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    try {
      this.reader.push(message.chunk, this.collect);
    } catch (error) {
      this.failure ??= error as Error;
    }
    if (this.taken.length >= PAUSE_AT_VALUES && !this.paused) {
      this.paused = true;
      this.connection?.stream.pause();
    }
    this.notify();
  }

  handleError(error: Error): void {
    this.failure ??= error;
    this.notify();
  }

  handleReadyForQuery(): void {
    this.finished = true;
    this.notify();
  }

  handleCommandComplete(): void {}

  /** What has arrived, batch by batch, until the server is done; then throws what failed, if anything did. */
  async *values(): AsyncGenerator<string[]> {
    for (;;) {
      if (this.taken.length > 0) {
        const batch = this.taken;
        this.taken = [];
        this.resume();
        yield batch;
      } else if (this.finished || this.failure) {
        break;
      } else {
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    }
    if (this.failure) throw this.failure;
    if (!this.reader.complete) throw new Error('COPY data ended early');
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection?.stream.resume();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
