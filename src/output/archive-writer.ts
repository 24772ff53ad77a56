import { stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { RuntimeError } from '../errors.js';
import { openEntryFile } from './private-file.js';
import type { EntryArchive } from '../db/archive-first.js';
import { lockArchive, type ArchiveLock, type ArchiveLockOptions } from './archive-lock.js';

const gzipAsync = promisify(gzip);

/** A batch the archive could not take: its transaction rolls back; every batch before it is deleted and archived. */
export class ArchiveWriteError extends RuntimeError {}

/**
 * The `prune --archive` file: NDJSON, one canonical entry per line, gzip when the path ends in `.gz`. Every
 * `append` is on disk (fdatasync) when it resolves, which is what lets a prune commit a DELETE only after the rows
 * it removes are archived. Lives with the formatters rather than in sinks/: a sink is an export destination with
 * retries and checkpoints, while this is a local file whose only contract is "flushed before the commit".
 */
export interface ArchiveWriter extends EntryArchive {
  readonly path: string;
  /** Entries appended by this writer (less those cut). */
  readonly entries: number;
  /** Appends one entry per line (a gzip member per call) and flushes it to disk before resolving. */
  append(lines: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens an archive as {@link openEntryFile} does (0600, no links, only an archive of this tool, a torn tail of a
 * killed run cut: that batch never committed, so its rows are still in the table and are archived again). With
 * `lock`, its lock file is taken first (archive-lock.ts): no other prune writes it, or cuts it, until `close`.
 */
export async function openArchive(path: string, warn: (message: string) => void = () => undefined, lock?: ArchiveLockOptions): Promise<ArchiveWriter> {
  const held = lock && (await lockArchive(path, lock));
  try {
    return await openLockedArchive(path, warn, held);
  } catch (error) {
    await held?.release();
    throw error;
  }
}

async function openLockedArchive(path: string, warn: (message: string) => void, lock: ArchiveLock | undefined): Promise<ArchiveWriter> {
  const gzipped = path.endsWith('.gz');
  const file = await openEntryFile(path, { flag: '--archive', gzip: gzipped, regularOnly: true, warn });
  const { handle } = file;
  const opened = await handle.stat();
  let size = file.size;
  let entries = 0;
  let closed = false;
  // Another prune (of another table) may append to the same file: nothing below what it wrote is ever cut.
  let floor = 0;
  const resync = async () => {
    const now = (await handle.stat()).size;
    if (now !== size) size = floor = now;
  };
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
      // Its lock file removed by hand or taken over, the archive may have another writer now: write nothing more.
      if (lock && !(await lock.held())) {
        if (!(await stillAt(path, opened))) throw movedError(path);
        throw new ArchiveWriteError(`the lock file '${lock.path}' of archive '${path}' was removed or replaced while prune ran; the batch being archived was not deleted`);
      }
      await resync();
      try {
        await writeAll(handle, data);
        await handle.datasync();
      } catch (error) {
        // Leave no half-written batch behind: it would make the rest of a gzip file unreadable.
        await handle.truncate(size).catch(() => undefined);
        throw new ArchiveWriteError(`cannot write archive '${path}': ${describeWriteError(error)}; the batch being archived was not deleted`, { cause: error });
      }
      // Written to a file that is no longer at its path (removed, renamed, its directory gone), a batch is on no
      // disk anyone can find: refuse it, so that its DELETE rolls back.
      if (!(await stillAt(path, opened))) {
        // Wherever the file went, it holds only batches that committed.
        await handle.truncate(size).catch(() => undefined);
        throw movedError(path);
      }
      size += data.length;
      entries += lines.length;
    },
    mark: () => ({ size, entries }),
    async cut(mark) {
      if (closed) return;
      await resync();
      // Below the floor, another writer's entries follow ours: ours stay too, duplicates the next run archives again.
      if (mark.size >= size || mark.size < floor) return;
      try {
        await handle.truncate(mark.size);
        await handle.datasync();
      } catch (error) {
        // Left in the file, those entries are duplicates of rows still in the table: the next run archives them again.
        throw new ArchiveWriteError(`cannot cut rolled-back entries from archive '${path}': ${describeWriteError(error)}`, { cause: error });
      }
      size = mark.size;
      entries = mark.entries;
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close().finally(() => lock?.release());
    },
  };
}

const movedError = (path: string) =>
  new ArchiveWriteError(
    `archive '${path}' was removed or replaced while prune ran; the batch being archived was not deleted (the entries archived before are in the file that was there)`,
  );

async function stillAt(path: string, opened: Stats): Promise<boolean> {
  const now = await stat(path).catch(() => undefined);
  return now !== undefined && now.ino === opened.ino && now.dev === opened.dev;
}

function describeWriteError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return 'no space left on its file system (ENOSPC)';
  if (code === 'EDQUOT') return 'disk quota exceeded (EDQUOT)';
  return code ?? String(error);
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    done += bytesWritten;
  }
}
