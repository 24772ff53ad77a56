import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readFile, readlink, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { normalizeInstant } from '../config/instant.js';
import { fileErrorReason, RuntimeError, UsageError } from '../errors.js';

/**
 * How a run kept late-committing transactions from falling behind its checkpoint (docs/decisions/
 * 001-late-commits.md): `open-transactions` saw every open transaction's start; `settle` had only the --settle window
 * (other sessions hidden from its role, a standby); `unknown` was written by a version that recorded nothing.
 */
import type { LateCommitGuard, Position } from '../domain.js';


/** What the exports that wrote a checkpoint covered. */
export interface CheckpointCoverage {
  /** The destination kind: splunk, elasticsearch, datadog, file. */
  destination: string;
  /** The filters, as flag name to normalized value(s); empty for an export of every entry. */
  filters: Record<string, string | string[]>;
  /** The weakest guard any run that advanced this checkpoint had. */
  guard: LateCommitGuard;
  /** The table the exports read (queries/checkpoint-source.ts); absent in files written before it was recorded. */
  source?: string;
}

/** A checkpoint as read: version 1 files have a position only. */
export interface Checkpoint {
  version: 1 | 2;
  position: Position;
  coverage?: CheckpointCoverage;
}

/** The checkpoint file (version 2): where the last export stopped, and what the exports that wrote it covered. */
export interface CheckpointFile {
  version: 2;
  timestamp: string;
  id: string;
  /** When this checkpoint was written (ISO 8601), for humans. */
  updated_at: string;
  destination: string;
  filters: Record<string, string | string[]>;
  late_commit_guard: LateCommitGuard;
  source?: string;
}

const GUARDS: readonly LateCommitGuard[] = ['open-transactions', 'settle', 'unknown'];
/** The temporary file a write leaves only when killed: `.NAME.<12 hex>.tmp` beside the checkpoint. */
const tempName = (file: string, hex: string) => join(dirname(file), `.${basename(file)}.${hex}.tmp`);
const TEMP_HEX = /^[0-9a-f]{12}$/;

/** Reads the checkpoint in `file`; a missing file means "start from the beginning" (undefined). */
export async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read checkpoint file ${file}: ${fileErrorReason(error)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`checkpoint file ${file} is not valid JSON; fix or delete it (deleting exports everything again)`);
  }
  const record = (typeof data === 'object' && data !== null && !Array.isArray(data) ? data : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (record.version !== 1 && record.version !== 2) problems.push(`"version" must be 1 or 2`);
  const timestamp = typeof record.timestamp === 'string' ? normalizeInstant(record.timestamp) : undefined;
  if (timestamp === undefined) {
    problems.push(`"timestamp" must be an ISO 8601 time with a zone and at most microsecond precision`);
  }
  if (typeof record.id !== 'string' || record.id === '') problems.push(`"id" must be a non-empty string`);
  const coverage = record.version === 2 ? readCoverage(record, problems) : undefined;
  if (problems.length > 0) throw new UsageError(`checkpoint file ${file} is malformed: ${problems.join('; ')}`);
  return { version: record.version as 1 | 2, position: { timestamp: timestamp as string, id: record.id as string }, coverage };
}

function readCoverage(record: Record<string, unknown>, problems: string[]): CheckpointCoverage | undefined {
  const { destination, filters, late_commit_guard: guard, source } = record;
  if (source !== undefined && typeof source !== 'string') problems.push(`"source" must be a string`);
  if (typeof destination !== 'string') problems.push(`"destination" must be a string`);
  const validFilters = typeof filters === 'object' && filters !== null && !Array.isArray(filters)
    && Object.values(filters).every((value) => typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string')));
  if (!validFilters) problems.push(`"filters" must be an object of strings or string lists`);
  if (!GUARDS.includes(guard as LateCommitGuard)) problems.push(`"late_commit_guard" must be one of ${GUARDS.join(', ')}`);
  return { destination: destination as string, filters: filters as CheckpointCoverage['filters'], guard: guard as LateCommitGuard, source: source as string | undefined };
}

/**
 * Where writes go: a symlinked checkpoint is followed to its target, which is replaced (the link stays a link);
 * a dangling link names the file to create.
 */
export async function checkpointTarget(file: string): Promise<string> {
  let path = file;
  for (let hops = 0; hops < 40; hops += 1) {
    try {
      return await realpath(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const stat = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!stat?.isSymbolicLink()) return join(await realpath(dirname(path)).catch(() => dirname(path)), basename(path));
    path = resolve(dirname(path), await readlink(path));
  }
  throw new RuntimeError(`cannot write checkpoint file ${file}: too many levels of symbolic links`);
}

/** Removes the temporary files that killed runs left beside the checkpoint (and its link, if it is one). */
export async function removeStaleTemps(file: string): Promise<void> {
  const target = await checkpointTarget(file).catch((error: NodeJS.ErrnoException) => {
    if (error instanceof RuntimeError || error.code === undefined) throw error;
    throw new RuntimeError(`cannot resolve checkpoint file ${file}: ${error.code}`);
  });
  const targets = new Set([file, target]);
  for (const target of targets) {
    const prefix = `.${basename(target)}.`;
    const names = await readdir(dirname(target)).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith('.tmp') || !TEMP_HEX.test(name.slice(prefix.length, -4))) continue;
      await unlink(join(dirname(target), name)).catch(() => undefined);
    }
  }
}

/**
 * Replaces the checkpoint atomically: a temporary file (mode 0600) in the target's directory is written and fsynced,
 * renamed over the target, and the directory is fsynced, so a crash leaves either the old or the new checkpoint,
 * never a torn one.
 */
export async function writeCheckpoint(file: string, position: Position, coverage: CheckpointCoverage, now: Date = new Date()): Promise<void> {
  const content: CheckpointFile = {
    version: 2,
    timestamp: position.timestamp,
    id: position.id,
    updated_at: now.toISOString(),
    destination: coverage.destination,
    filters: coverage.filters,
    late_commit_guard: coverage.guard,
    ...(coverage.source === undefined ? {} : { source: coverage.source }),
  };
  let temp: string | undefined;
  try {
    const target = await checkpointTarget(file);
    temp = tempName(target, randomBytes(6).toString('hex'));
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(content, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    await syncDirectory(dirname(target));
  } catch (error) {
    if (temp) await unlink(temp).catch(() => undefined);
    if (error instanceof RuntimeError) throw error;
    throw new RuntimeError(`cannot write checkpoint file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

/** Makes the rename durable. Some platforms (Windows) cannot open a directory: nothing more can be done there. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}
