import { constants, readFileSync } from 'node:fs';
import { link, open, readdir, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, LockBusyError, UsageError } from '../errors.js';
import { describeLockWait } from './lock-busy.js';

// One prune writes an archive at a time, whatever table or database it prunes: a lock file beside it, created with
// O_EXCL, names the writer (docs/decisions/013-archive-file-lock.md says why not flock, and how a stale one goes).

/** --wait-lock: pause between attempts at the archive's lock, as for the table's advisory lock. */
const RETRY_MS = 250;
/**
 * Reads of a lock file that names no writer, {@link UNNAMED_READ_PAUSE_MS} apart, before it counts as stale. A lock
 * is linked into place whole, so an empty or torn one is a crash's leftover; the reads cover a writer on a file
 * system without hard links, which creates the file and then writes it (decisions/013).
 */
const UNNAMED_READS = 10;
const UNNAMED_READ_PAUSE_MS = 20;
/** A `.break` guard or a lock's temporary file left by a killed run (microseconds of work) is gone after this. */
const GUARD_STALE_MS = 10_000;
/** link(2) errors of a file system without hard links: the lock is then created in place, then written. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);
/** Stale locks removed or vanished before one run gives up taking the lock; each is another writer's turn. */
const MAX_RETAKES = 20;

/** What a lock file holds: who writes the archive, enough to tell whether that process still runs. */
export interface ArchiveLockOwner {
  pid: number;
  host: string;
  /** Linux: the boot the pid belongs to (/proc/sys/kernel/random/boot_id); a reboot ends every holder. */
  boot?: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/PID/stat), which a reused pid does not share. */
  start?: string;
  /** When the lock was taken, ISO 8601. */
  since: string;
  /** The table the holder prunes, for the message. */
  table: string;
}

export interface ArchiveLock {
  /** The lock file: the archive's path with `.lock` appended. */
  readonly path: string;
  /** Whether the lock file at `path` is still the one this run created (nobody removed or replaced it). */
  held(): Promise<boolean>;
  /** Removes the lock file if it is still this run's. */
  release(): Promise<void>;
}

export interface ArchiveLockOptions {
  /** The table this run prunes: the next run's message names it. */
  table: string;
  /** --wait-lock: try again for this long; else a held lock is exit 3 at once. */
  waitMs?: number;
  signal?: AbortSignal;
}

export const archiveLockPath = (archive: string) => `${archive}.lock`;

/**
 * Takes the lock of `archive` before it is opened: a torn tail cut on opening, a failed batch cut, are then surely
 * this run's. A lock whose holder no longer runs on this host is removed; one held is LockBusyError (exit 3).
 */
export async function lockArchive(archive: string, options: ArchiveLockOptions): Promise<ArchiveLock> {
  const path = archiveLockPath(archive);
  const text = `${JSON.stringify(await describeSelf(options.table))}\n`;
  const deadline = performance.now() + (options.waitMs ?? 0);
  let retakes = 0;
  for (;;) {
    const created = await createLockFile(path, text);
    if (created) {
      await sweepTemporaries(path);
      return heldLock(path, text);
    }
    const found = await readNamedLock(path);
    // Gone between the two calls (its holder finished), or stale and removed: try again at once, a bounded number of times.
    if (retakes < MAX_RETAKES && (found === undefined || (isStale(found) && (await removeStale(path, found.text))))) {
      retakes += 1;
      continue;
    }
    if (options.waitMs === undefined || performance.now() >= deadline) throw new LockBusyError(describeBusy(archive, path, found, options.waitMs));
    await sleep(Math.min(RETRY_MS, deadline - performance.now()), undefined, { signal: options.signal }).catch(() => undefined);
    if (options.signal?.aborted) throw new InterruptedError(`interrupted while waiting for the lock of archive '${archive}'; nothing was done`);
  }
}

interface FoundLock {
  text: string;
  owner?: ArchiveLockOwner;
}

function heldLock(path: string, text: string): ArchiveLock {
  // The content, not the inode, tells ours: a file system may give a new file the inode of one just removed.
  const ours = async () => (await readLock(path))?.text === text;
  return {
    path,
    held: ours,
    async release() {
      // Not ours any more (removed by hand, taken over): leave the other writer's lock alone.
      if (await ours()) await unlink(path).catch(() => undefined);
    },
  };
}

/**
 * Creates the lock file holding `text`, whole: written to a temporary file of this process, then hard-linked as the
 * lock (link(2) fails when the lock exists, as O_EXCL does), so a run killed at any moment leaves either no lock or
 * a full one. False when the lock exists.
 */
async function createLockFile(path: string, text: string): Promise<boolean> {
  const temporary = temporaryPath(path);
  for (let attempt = 1; ; attempt += 1) {
    await createFile(temporary, text, constants.O_TRUNC);
    try {
      await link(temporary, path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST') return false;
      if (NO_HARD_LINKS.has(code)) return await createFile(path, text, constants.O_EXCL);
      // ENOENT: a holder swept the temporary file away (this run stalled for 10 s): write it again.
      if (code !== 'ENOENT' || attempt >= 3) throw new UsageError(`cannot create the lock file '${path}' of --archive: ${code || String(error)}`);
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }
}

/** Creates `path` (O_EXCL or O_TRUNC in `mode`) holding `text`; false when O_EXCL finds it exists. */
async function createFile(path: string, text: string, mode: number): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | mode, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new UsageError(`cannot create the lock file '${path}' of --archive: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    await handle.writeFile(text);
    return true;
  } finally {
    await handle.close();
  }
}

/** `FILE.lock.HOST.PID.tmp`: the lock's content before it is linked in place, named so that a leftover tells its writer. */
const temporaryPath = (path: string, host = hostname(), pid = process.pid) => `${path}.${host}.${pid}.tmp`;

/**
 * Removes the temporary files of lock attempts killed before they removed theirs (the holder of the lock runs this,
 * once): those of a process of this host that runs no more, and any older than {@link GUARD_STALE_MS}.
 */
async function sweepTemporaries(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const writer = /^(.+)\.(\d+)\.tmp$/.exec(name.slice(prefix.length));
    const file = join(dirname(path), name);
    const gone = writer?.[1] === hostname() && Number(writer[2]) !== process.pid && !processExists(Number(writer[2]));
    const old = !gone && Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? Date.now()) > GUARD_STALE_MS;
    if (gone || old) await unlink(file).catch(() => undefined);
  }
}

/** A lock file that names no writer is read a few more times: on a file system without hard links it is created, then written. */
async function readNamedLock(path: string): Promise<FoundLock | undefined> {
  for (let read = 1; ; read += 1) {
    const found = await readLock(path);
    if (found?.owner || found === undefined || read >= UNNAMED_READS) return found;
    await sleep(UNNAMED_READ_PAUSE_MS);
  }
}

async function readLock(path: string): Promise<FoundLock | undefined> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const text = await handle.readFile('utf8');
      return { text, owner: parseOwner(text) };
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new UsageError(`the lock file '${path}' of --archive is a symbolic link: remove it`);
    throw error;
  }
}

function parseOwner(text: string): ArchiveLockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<ArchiveLockOwner> | null;
    return owner && Number.isInteger(owner.pid) && typeof owner.host === 'string' ? (owner as ArchiveLockOwner) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the holder surely runs no more: on this host, another boot, no such pid, a zombie, or a pid now of a
 * process started at another time; or the file names no writer. A holder on another host is never stale here: its
 * liveness cannot be seen.
 */
export function isStale(found: Pick<FoundLock, 'owner'>): boolean {
  const { owner } = found;
  // Empty or torn after the re-reads of readNamedLock: left by a run killed as it wrote it (createLockFile).
  if (!owner) return true;
  if (owner.host !== hostname()) return false;
  const boot = readBootId();
  if (owner.boot && boot && owner.boot !== boot) return true;
  if (!processExists(owner.pid)) return true;
  const proc = readProcStat(owner.pid);
  if (!proc) return false;
  return proc.state === 'Z' || (owner.start !== undefined && owner.start !== proc.start);
}

/**
 * Removes a stale lock file if it still holds `text`, under a `.break` guard made with O_EXCL: of two runs that
 * found it stale, the second must not remove the lock the first then created. True when the lock file is gone.
 */
async function removeStale(path: string, text: string): Promise<boolean> {
  const guard = `${path}.break`;
  const made = await createFile(guard, `${process.pid}\n`, constants.O_EXCL);
  if (!made) {
    const info = await stat(guard).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > GUARD_STALE_MS) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    const still = await readLock(path);
    if (still?.text === text) await unlink(path).catch(() => undefined);
    return true;
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

function describeBusy(archive: string, path: string, found: FoundLock | undefined, waitedMs: number | undefined): string {
  const owner = found?.owner;
  const who = owner
    ? `pid ${owner.pid} on ${owner.host}${owner.table ? `, pruning ${owner.table}` : ''}${owner.since ? `, since ${owner.since}` : ''}`
    : 'a lock file that names no writer';
  const remote = owner && owner.host !== hostname() ? `; if no prune runs on ${owner.host}, remove ${path}` : '';
  const unnamed = owner ? '' : `; if no prune runs, remove ${path}`;
  return `another prune is writing archive '${archive}' (${who}; lock file ${path}); ${describeLockWait(waitedMs)}${remote}${unnamed}`;
}

async function describeSelf(table: string): Promise<ArchiveLockOwner> {
  const boot = readBootId();
  const start = readProcStat(process.pid)?.start;
  return { pid: process.pid, host: hostname(), ...(boot && { boot }), ...(start && { start }), since: new Date().toISOString(), table };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

let bootId: string | undefined | null = null;

function readBootId(): string | undefined {
  if (bootId === null) bootId = readSync('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
  return bootId;
}

/** Linux's /proc/PID/stat: the state (field 3) and the start time (field 22), after the parenthesised command name. */
function readProcStat(pid: number): { state: string; start: string } | undefined {
  const text = readSync(`/proc/${pid}/stat`);
  const fields = text?.slice(text.lastIndexOf(')') + 2).split(' ');
  if (!fields || fields.length < 20) return undefined;
  return { state: fields[0] as string, start: fields[19] as string };
}

/** Small procfs files, read at lock time only; sync keeps {@link isStale} a plain predicate. */
function readSync(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
