import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RuntimeError, UsageError } from '../errors.js';
import type { Position } from '../sinks/types.js';

/** The checkpoint file: where the last export stopped, so the next run starts right after it. */
export interface CheckpointFile {
  version: 1;
  timestamp: string;
  id: string;
  /** When this checkpoint was written (ISO 8601), for humans. */
  updated_at: string;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/** Reads the position in `file`; a missing file means "start from the beginning" (undefined). */
export async function readCheckpoint(file: string): Promise<Position | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read checkpoint file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`checkpoint file ${file} is not valid JSON; fix or delete it (deleting exports everything again)`);
  }
  const record = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (record.version !== 1) problems.push(`"version" must be 1`);
  if (typeof record.timestamp !== 'string' || !ISO_UTC.test(record.timestamp)) {
    problems.push(`"timestamp" must be an ISO 8601 time`);
  }
  if (typeof record.id !== 'string' || record.id === '') problems.push(`"id" must be a non-empty string`);
  if (problems.length > 0) throw new UsageError(`checkpoint file ${file} is malformed: ${problems.join('; ')}`);
  return { timestamp: record.timestamp as string, id: record.id as string };
}

/**
 * Replaces `file` atomically: a temporary file in the same directory is written and fsynced, renamed over the
 * old one, and the directory is fsynced, so a crash leaves either the old or the new checkpoint, never a torn one.
 */
export async function writeCheckpoint(file: string, position: Position, now: Date = new Date()): Promise<void> {
  const content: CheckpointFile = { version: 1, timestamp: position.timestamp, id: position.id, updated_at: now.toISOString() };
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(content, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new RuntimeError(`cannot write checkpoint file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  await syncDirectory(dir);
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
