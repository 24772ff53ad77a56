import { constants, type Stats } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { checkEntryText } from './entry-file-content.js';

/**
 * Files that hold audit entries (`export --out`, `prune --archive`): created 0600 whatever the umask, never opened
 * through a symbolic link, never readable by other users, and appended to only when their content is entries of this
 * tool. A torn tail left by a killed run (a partial last line, a partial last gzip member) is cut: the run that wrote
 * it never confirmed those entries (an export's checkpoint is behind them, a prune never committed their DELETE).
 */
export interface EntryFileOptions {
  /** The flag that named the file, for messages: `--out`, `--archive`. */
  flag: string;
  /** NDJSON in gzip members rather than plain lines. */
  gzip: boolean;
  /** Refuse devices and FIFOs (an archive is truncated and fsynced); otherwise they are written as they are. */
  regularOnly?: boolean;
  /** Receives one line for stderr: a mode narrowed, a torn tail cut. */
  warn: (message: string) => void;
}

export interface OpenedEntryFile {
  handle: FileHandle;
  /** Where the next append starts: the size after a torn tail was cut (0 for a device or a FIFO). */
  size: number;
  /** False for a device or a FIFO (`--out /dev/null`): nothing to fsync, truncate or check there. */
  regular: boolean;
  created: boolean;
}

const PRIVATE_MODE = 0o600;
// O_APPEND keeps every write at the end even if another process appended meanwhile; O_NOFOLLOW refuses a link.
const OPEN_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_NOFOLLOW;

/** Opens (or creates) a file that holds entries, checked as {@link EntryFileOptions} describes; throws UsageError. */
export async function openEntryFile(path: string, options: EntryFileOptions): Promise<OpenedEntryFile> {
  const { handle, created } = await openNoFollow(path, options.flag);
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      if (options.regularOnly) throw new UsageError(`${options.flag} '${path}' is not a regular file`);
      return { handle, size: 0, regular: false, created };
    }
    // Read before anything changes: a file that is refused is left exactly as it was.
    const keep = info.size === 0 ? 0 : await checkEntryText(handle, info.size, { path, flag: options.flag, gzip: options.gzip });
    if (created) {
      // The umask may have taken bits away, never added them; set exactly 0600.
      await handle.chmod(PRIVATE_MODE);
      await syncDirectory(dirname(path));
    } else {
      await narrowMode(handle, info, path, options);
    }
    if (keep < info.size) {
      await handle.truncate(keep);
      await handle.datasync();
      const what = options.gzip ? 'gzip member' : 'line';
      options.warn(`warning: cut a torn last ${what} (${info.size - keep} bytes) from ${options.flag} '${path}': a stopped run was writing it and never confirmed its entries`);
    }
    return { handle, size: keep, regular: true, created };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Fails with a UsageError naming the path unless a file can be created or replaced at `path`: its directory exists
 * and this user may write in it. Called before a run reads or sends anything, so a typo in a path costs nothing.
 */
export async function checkWritableDirectory(path: string, flag: string): Promise<void> {
  const directory = dirname(path);
  let info: Stats;
  try {
    info = await stat(directory);
  } catch (error) {
    if (!isErrno(error)) throw error;
    throw new UsageError(`cannot write ${flag} '${path}': ${error.code === 'ENOENT' ? `directory '${directory}' does not exist` : `${error.code} on '${directory}'`}`);
  }
  if (!info.isDirectory()) throw new UsageError(`cannot write ${flag} '${path}': '${directory}' is not a directory`);
  try {
    await access(directory, constants.W_OK | constants.X_OK);
  } catch (error) {
    if (!isErrno(error)) throw error;
    throw new UsageError(`cannot write ${flag} '${path}': no permission to create files in '${directory}'`);
  }
}

async function openNoFollow(path: string, flag: string): Promise<{ handle: FileHandle; created: boolean }> {
  try {
    return { handle: await open(path, OPEN_FLAGS | constants.O_CREAT | constants.O_EXCL, PRIVATE_MODE), created: true };
  } catch (error) {
    // EEXIST: the file (or a link) is there already; open it without creating.
    if (!isErrno(error) || error.code !== 'EEXIST') throw openError(error, path, flag);
  }
  try {
    return { handle: await open(path, OPEN_FLAGS), created: false };
  } catch (error) {
    throw openError(error, path, flag);
  }
}

function openError(error: unknown, path: string, flag: string): unknown {
  if (!isErrno(error)) return error;
  switch (error.code) {
    case 'ELOOP':
      return new UsageError(`${flag} '${path}' is a symbolic link; files holding audit entries are not opened through links, pass the real path`);
    case 'ENOENT':
      return new UsageError(`cannot write ${flag} '${path}': directory '${dirname(path)}' does not exist`);
    case 'EACCES':
    case 'EPERM':
      return new UsageError(`cannot write ${flag} '${path}': permission denied`);
    case 'EISDIR':
      return new UsageError(`cannot write ${flag} '${path}': it is a directory`);
    default:
      return new UsageError(`cannot open ${flag} '${path}': ${error.code ?? error.message}`);
  }
}

/** A file others may read or write is narrowed to 0600 if this user owns it; another user's file is refused. */
export async function narrowMode(handle: FileHandle, info: Stats, path: string, options: Pick<EntryFileOptions, 'flag' | 'warn'>): Promise<void> {
  if ((info.mode & 0o077) === 0) return;
  const mode = `0${(info.mode & 0o777).toString(8)}`;
  if (info.uid !== process.getuid?.()) {
    throw new UsageError(
      `${options.flag} '${path}' is open to other users (mode ${mode}) and owned by uid ${info.uid}, so it cannot be narrowed to 0600; ` +
        'a file holding audit entries must be private: have its owner run chmod 600, or pass another path',
    );
  }
  await handle.chmod(PRIVATE_MODE);
  options.warn(`warning: ${options.flag} '${path}' was open to other users (mode ${mode}); narrowed to 0600, as it holds audit entries`);
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

function isErrno(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}
