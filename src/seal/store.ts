import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { link, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fileErrorReason, RuntimeError, UsageError } from '../errors.js';
import { narrowMode } from '../output/private-file.js';
import { parseLeaf, type SealedEntry } from './canonical.js';
import { fileLines } from './lines.js';

/**
 * The seal store: a directory of JSON files kept apart from the audited database. `seal-00000001.json` is a signed
 * record, `seal-00000001-<random>.leaves.ndjson` its entries (one JSON array per line: id, timestamp, hash, field
 * digests), `prune-*.json` the signed records of prunes. Every file is written to a temporary name, fsynced, moved
 * into place and the directory fsynced; a record is linked into place, so two seals racing cannot overwrite one.
 */
export interface StoreListing {
  /** Seal record files by sequence number. */
  seals: Map<number, string>;
  prunes: string[];
}

const SEAL_NAME = /^seal-(\d{8,})\.json$/;
const PRUNE_NAME = /^prune-[0-9A-Za-z-]+\.json$/;
/** Every file a store holds: records, leaves, prune records. */
const STORE_FILE = /^seal-\d{8,}\.json$|^seal-\d{8,}-[0-9a-f]+\.leaves\.ndjson$|^prune-[0-9A-Za-z-]+\.json$/;
const PRIVATE_MODE = 0o600;

export const sealFileName = (seq: number): string => `seal-${String(seq).padStart(8, '0')}.json`;
/** A leaves file's name is the run's own: two seals racing for one number never write over each other's leaves. */
const leavesFileName = (seq: number): string => `seal-${String(seq).padStart(8, '0')}-${randomBytes(4).toString('hex')}.leaves.ndjson`;

/** Fails with a UsageError unless `dir` is a directory. */
export async function checkStore(dir: string, flag = '--store'): Promise<void> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`${flag} '${dir}': ${error.code === 'ENOENT' ? 'no such directory (create it first, away from the database host)' : error.code}`);
  });
  if (!info.isDirectory()) throw new UsageError(`${flag} '${dir}' is not a directory`);
}

export async function listStore(dir: string): Promise<StoreListing> {
  const seals = new Map<number, string>();
  const prunes: string[] = [];
  for (const name of await readdir(dir)) {
    const seal = SEAL_NAME.exec(name);
    if (seal) seals.set(Number(seal[1]), name);
    else if (PRUNE_NAME.test(name)) prunes.push(name);
  }
  return { seals, prunes: prunes.sort() };
}

/** A store file that cannot be read, or is not a JSON object: verify reports it under its seal and goes on. */
export class StoreFileError extends RuntimeError {}

/** A store file's JSON, or a StoreFileError naming it. */
export async function readStoreJson(dir: string, name: string): Promise<Record<string, unknown>> {
  const path = join(dir, name);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === undefined) throw error;
    throw new StoreFileError(`cannot read seal store file '${path}': ${fileErrorReason(error)}`);
  });
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  throw new StoreFileError(`seal store file '${path}' is not a JSON object`);
}

/** Writes a new store file durably; fails (RuntimeError) if one of that name exists already. */
export async function writeStoreJson(dir: string, name: string, value: object): Promise<void> {
  const temp = tempName(dir, name);
  await writeDurably(temp, `${JSON.stringify(value, null, 2)}\n`).catch(cannotWrite(dir));
  try {
    await link(temp, join(dir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RuntimeError(`seal store '${dir}' already holds ${name}: another seal ran at the same time; run again`);
    }
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dir);
}

/**
 * Writes a seal's leaves to a file under a temporary name, as they come; `finish` moves it into place. Plain NDJSON:
 * compressing took as much CPU as hashing (docs/decisions/005-seal-canonical-encoding.md).
 */
export class LeavesWriter {
  private readonly hash = createHash('sha256');
  private constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly temp: string,
    private readonly handle: Awaited<ReturnType<typeof open>>,
  ) {}

  static async create(dir: string, seq: number): Promise<LeavesWriter> {
    const name = leavesFileName(seq);
    const temp = tempName(dir, name);
    const handle = await openPrivate(temp).catch(cannotWrite(dir));
    return new LeavesWriter(dir, name, temp, handle);
  }

  /** Appends leaf lines (bytes). */
  async write(lines: Buffer): Promise<void> {
    if (lines.length === 0) return;
    this.hash.update(lines);
    await this.handle.write(lines).catch(cannotWrite(this.dir));
  }

  /** Fsyncs the file and moves it into place; returns its name and the SHA-256 of its bytes. */
  async finish(): Promise<{ name: string; sha256: string }> {
    await this.handle.sync();
    await this.handle.close();
    // The record is the commit: leaves without one (a crash, a lost race) are never read.
    await rename(this.temp, join(this.dir, this.name));
    await syncDirectory(this.dir);
    return { name: this.name, sha256: this.hash.digest('hex') };
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.temp).catch(() => undefined);
  }

  /** Removes the finished file of a seal whose record could not be written. */
  async discard(): Promise<void> {
    await unlink(join(this.dir, this.name)).catch(() => undefined);
  }
}

/** A leaves file that is gone, or not lines of [id, timestamp, hash, fields]. */
export class LeavesError extends Error {}

/** A seal's leaves in order; once all are read, `sha256.value` is the SHA-256 of the file's bytes. */
export async function* readLeaves(path: string, sha256: { value?: string } = {}): AsyncGenerator<SealedEntry> {
  try {
    const hash = createHash('sha256');
    const file = createReadStream(path);
    file.on('data', (chunk) => hash.update(chunk));
    for await (const line of fileLines(file)) {
      if (line === '') continue;
      const leaf = parseLeaf(line);
      if (!leaf) throw new LeavesError(`'${path}' holds a line that is not [id, timestamp, hash, fields]`);
      yield leaf;
    }
    sha256.value = hash.digest('hex');
  } catch (error) {
    if (error instanceof LeavesError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof SyntaxError || code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      throw new LeavesError(`cannot read '${path}': ${code ?? (error as Error).message}`);
    }
    throw error;
  }
}

/** A file system's refusal (a read-only store, a full disk) as one line naming the store; anything else as it is. */
function cannotWrite(dir: string): (error: NodeJS.ErrnoException) => never {
  return (error) => {
    if (error.code === undefined) throw error;
    throw new RuntimeError(`cannot write to the seal store '${dir}': ${fileErrorReason(error)}`, { cause: error });
  };
}

function tempName(dir: string, name: string): string {
  return join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await openPrivate(path);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A new store file, 0600 whatever the umask: leaves hold ids, timestamps and a CRC-32 of every field (a short secret's
 * CRC gives it away to a guess), records the first and last ids, so other users may not read them (like export --out).
 */
async function openPrivate(path: string): Promise<FileHandle> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, PRIVATE_MODE);
  try {
    await handle.chmod(PRIVATE_MODE);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/**
 * Store files others may read (a store written before files were created 0600, a copy made with cp) are narrowed to
 * 0600 with a warning when this user owns them, else refused (UsageError), as export --out treats its file.
 */
export async function narrowStoreFiles(dir: string, warn: (message: string) => void): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!STORE_FILE.test(name)) continue;
    const path = join(dir, name);
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
      // Gone since the listing (another run's temporary file), or a link: nothing of ours to narrow.
      if (error.code === 'ENOENT' || error.code === 'ELOOP') return undefined;
      throw new UsageError(`--store '${dir}': cannot open ${name}: ${fileErrorReason(error)}`);
    });
    if (!handle) continue;
    try {
      const info = await handle.stat();
      if (info.isFile()) await narrowMode(handle, info, path, { flag: '--store', warn });
    } finally {
      await handle.close();
    }
  }
}

/** A new or renamed file's directory entry is durable only once the directory itself is synced. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
