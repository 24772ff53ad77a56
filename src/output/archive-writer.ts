import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { RuntimeError, UsageError } from '../errors.js';

const gzipAsync = promisify(gzip);

/**
 * The `prune --archive` file: NDJSON, one canonical entry per line, gzip when the path ends in `.gz`. Every
 * `append` is on disk (fdatasync) when it resolves, which is what lets a prune commit a DELETE only after the rows
 * it removes are archived. Lives with the formatters rather than in sinks/: a sink is an export destination with
 * retries and checkpoints, while this is a local file whose only contract is "flushed before the commit".
 */
export interface ArchiveWriter {
  readonly path: string;
  /** Entries appended by this writer. */
  readonly entries: number;
  /** Appends one entry per line (a gzip member per call) and flushes it to disk before resolving. */
  append(lines: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens (creating with mode 0600, since the entries are audit data) or appends to an archive. An existing archive
 * may end with a torn write from a run that was killed mid-batch; such a batch was never committed, so its rows are
 * still in the table and will be archived again. A torn last line of a plain file is cut off; a gzip file that does
 * not decompress to its end is refused, because members appended after a torn one could not be read back.
 */
export async function openArchive(path: string): Promise<ArchiveWriter> {
  const gzipped = path.endsWith('.gz');
  const existing = await sizeOf(path);
  if (existing !== undefined && existing > 0 && gzipped) await checkGzip(path);
  let handle: FileHandle;
  try {
    handle = await open(path, 'a+', 0o600);
  } catch (error) {
    throw new UsageError(`cannot open archive '${path}': ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    if (existing === undefined) await syncDirectory(dirname(path));
    let size = existing && !gzipped ? await cutTornLine(handle, existing, path) : (existing ?? 0);
    let entries = 0;
    let closed = false;
    return {
      path,
      get entries() {
        return entries;
      },
      async append(lines) {
        if (closed) throw new Error('archive already closed');
        if (lines.length === 0) return;
        const text = `${lines.join('\n')}\n`;
        const data = gzipped ? await gzipAsync(text) : Buffer.from(text);
        try {
          await writeAll(handle, data);
          await handle.datasync();
        } catch (error) {
          // Leave no half-written batch behind: it would make the rest of a gzip file unreadable.
          await handle.truncate(size).catch(() => undefined);
          throw new RuntimeError(`cannot write archive '${path}': ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
        }
        size += data.length;
        entries += lines.length;
      },
      async close() {
        if (closed) return;
        closed = true;
        await handle.close();
      },
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`archive '${path}' is not a regular file`);
    return info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function checkGzip(path: string): Promise<void> {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  try {
    await pipeline(createReadStream(path), createGunzip(), discard);
  } catch (error) {
    throw new UsageError(
      `archive '${path}' is not a complete gzip file (${(error as Error).message}); a run killed while writing leaves a torn last batch, ` +
        `whose entries were never deleted. Keep its readable part with \`zcat ${path} > recovered.ndjson\` and pass a new --archive file`,
    );
  }
}

/** Cuts a plain archive back to its last newline; returns the new size. */
async function cutTornLine(handle: FileHandle, size: number, path: string): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) return cutAt(handle, start + newline + 1, size, path);
    end = start;
  }
  return cutAt(handle, 0, size, path);
}

/** Truncates to `keep`, but only what looks like a torn entry: a file of other text is refused, never cut. */
async function cutAt(handle: FileHandle, keep: number, size: number, path: string): Promise<number> {
  if (keep === size) return size;
  const first = Buffer.alloc(1);
  await handle.read(first, 0, 1, keep);
  if (first[0] !== 0x7b) throw new UsageError(`archive '${path}' does not end with a newline and is not an NDJSON archive; pass a new --archive file`);
  await handle.truncate(keep);
  return keep;
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

/** A new file's directory entry is only durable once the directory itself is synced. */
async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r').catch(() => undefined);
  if (!directory) return;
  try {
    await directory.sync().catch(() => undefined);
  } finally {
    await directory.close();
  }
}
