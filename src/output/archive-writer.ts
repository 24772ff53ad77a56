import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { RuntimeError } from '../errors.js';
import { openEntryFile } from './private-file.js';

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
 * Opens an archive as {@link openEntryFile} does (0600, no links, only an archive of this tool, a torn tail of a
 * killed run cut: that batch never committed, so its rows are still in the table and are archived again).
 */
export async function openArchive(path: string, warn: (message: string) => void = () => undefined): Promise<ArchiveWriter> {
  const gzipped = path.endsWith('.gz');
  const file = await openEntryFile(path, { flag: '--archive', gzip: gzipped, regularOnly: true, warn });
  const { handle } = file;
  let size = file.size;
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
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    done += bytesWritten;
  }
}
