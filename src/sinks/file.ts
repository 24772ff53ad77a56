import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { UsageError } from '../errors.js';
import { openEntryFile, type OpenedEntryFile } from '../output/private-file.js';
import { BodyBuilder, BufferPool, jsonLength } from './body.js';
import type { SendOutcome, Sink } from './types.js';
import type { ExportRecord } from '../domain.js';

const gzipAsync = promisify(gzip);

export interface FileSinkOptions {
  /** File to append to, or `-` for `stdout`. */
  path: string;
  /** Where `-` writes (the CLI's `io.stdout`). */
  stdout?: Writable;
  /** Gzip the output; default: the path ends in `.gz`. Each batch becomes one gzip member. */
  gzip?: boolean;
  /** zlib level for files. Default 6: an archive is written once and kept. */
  gzipLevel?: number;
  /** `batch` (default): fsync after every batch, so a checkpoint never names an entry not on disk. */
  fsync?: 'batch' | 'close';
  /** The file already opened and checked by {@link openEntryFile} (the export does so before it reads anything). */
  file?: OpenedEntryFile;
  /** Where a warning about the file goes when the sink opens it itself. */
  warn?: (message: string) => void;
}

/**
 * Appends NDJSON (one entry per line) to a file or stdout. Batches are encoded (and compressed) concurrently but
 * written strictly in the order `send` was called. Appending keeps the file valid: the file is opened as
 * {@link openEntryFile} says (private, entries only, a torn tail cut), a failed write is truncated away, and gzip
 * members concatenate.
 */
export class FileSink implements Sink {
  readonly name: string;
  /** Smaller batches cost more fsyncs; larger ones keep more entries on the heap (see SplunkHecSink.defaults). */
  readonly defaults = { maxEntries: 1000, maxBytes: 1_000_000 };
  private readonly gzip: boolean;
  private handle: Promise<FileHandle> | undefined;
  private offset = 0;
  /** False for a device or a pipe (`--out /dev/null`, a FIFO): nothing to fsync, truncate or append a newline to. */
  private regularFile = true;
  private tail: Promise<unknown> = Promise.resolve();
  private failure: string | undefined;
  private closed = false;
  private readonly buffers = new BufferPool();

  constructor(private readonly options: FileSinkOptions) {
    this.name = options.path === '-' ? 'stdout' : `file ${options.path}`;
    this.gzip = options.gzip ?? options.path.endsWith('.gz');
    if (options.path === '-' && options.stdout === undefined) throw new Error('FileSink: stdout stream required for "-"');
  }

  async send(records: readonly ExportRecord[], _signal: AbortSignal): Promise<SendOutcome> {
    const body = new BodyBuilder(jsonLength(records) + records.length, this.buffers);
    for (const record of records) {
      body.addBytes(record.jsonBytes);
      body.add('\n');
    }
    const bytes = body.bytes();
    const encoding = this.gzip
      ? gzipAsync(bytes, { level: this.options.gzipLevel ?? 6 }).finally(() => body.release())
      : Promise.resolve(bytes);
    const written = this.tail.then(async () => this.write(await encoding));
    this.tail = written.catch(() => undefined);
    try {
      await written;
      return { kind: 'delivered', duplicates: 0 };
    } catch (error) {
      // The open's own refusal (a link, a foreign file) already names the file and says why.
      this.failure ??= error instanceof UsageError ? error.message : `cannot write ${this.name}: ${describe(error)}`;
      return { kind: 'fatal', reason: this.failure };
    } finally {
      // A file write is over (or never happens): nothing reads these bytes any more. A stream may still hold them.
      if (this.options.path !== '-') body.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    // A file opened up front but never written to is closed here too.
    const handle = this.handle ? await this.handle.catch(() => undefined) : this.options.file?.handle;
    if (handle === undefined) return;
    try {
      if (this.options.fsync === 'close' && this.regularFile) await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  private async write(data: Buffer): Promise<void> {
    if (this.failure !== undefined) throw new Error(this.failure);
    if (this.options.stdout !== undefined && this.options.path === '-') return writeStream(this.options.stdout, data);
    const handle = await (this.handle ??= this.openFile());
    try {
      for (let done = 0; done < data.length; ) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, null);
        done += bytesWritten;
      }
      if (this.options.fsync !== 'close' && this.regularFile) await handle.datasync();
    } catch (error) {
      // Leave no torn line or gzip member behind for the next append.
      if (this.regularFile) await handle.truncate(this.offset).catch(() => undefined);
      throw error;
    }
    this.offset += data.length;
  }

  private async openFile(): Promise<FileHandle> {
    const file = this.options.file ?? (await openEntryFile(this.options.path, { flag: '--out', gzip: this.gzip, warn: this.options.warn ?? (() => undefined) }));
    this.regularFile = file.regular;
    this.offset = file.size;
    return file.handle;
  }
}

function writeStream(stream: Writable, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `${code} (${error instanceof Error ? error.message : ''})` : String(error);
}
