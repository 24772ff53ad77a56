import { setTimeout as sleep } from 'node:timers/promises';
import type { Position } from '../domain.js';
import type { Db } from '../db/connect.js';
import type { ResolvedMapping } from '../db/mapping.js';
import {
  countPartition,
  detachPartition,
  isInsufficientPrivilege,
  isLockConflict,
  lockPartition,
  partitionRef,
  type TimePartition,
} from '../queries/partitions.js';
import { readJsonPage } from '../queries/prune.js';
import type { ArchiveWriter } from '../output/archive-writer.js';

/** Attempts at the lock a partition detach needs before the partition is left to row-by-row deletion. */
const DETACH_ATTEMPTS = 4;
const DETACH_BACKOFF_MS = 250;
/** Entries read per query when a partition is archived before it is dropped (unless --batch-size says otherwise). */
const ARCHIVE_PAGE_SIZE = 5000;

export interface DetachOptions {
  /** --detach-only: the partition stays a table of its own. */
  keep: boolean;
  /** Copy the partition's entries here before it goes. */
  archive?: ArchiveWriter;
  mask: (json: string) => string;
  pageSize?: number;
  onArchived?: (entries: number) => void;
}

/**
 * Removes a partition wholly before the cutoff from the audit table: one short transaction locks it against
 * writes, counts it (or, with an archive, copies it out, so the archive holds exactly what goes), and detaches it;
 * the caller then drops it on its own (unless --detach-only), which locks nothing the control plane uses. When the
 * parent's lock cannot be had within a short timeout, a few retries follow; after that ('busy'), or when the role
 * may delete rows but not detach ('forbidden': only the owner may), the partition stays attached, its rows going row
 * by row like any others. Returns the number of entries it held.
 */
export async function detachOldPartition(
  conn: Db,
  mapping: ResolvedMapping,
  partition: TimePartition,
  options: DetachOptions,
): Promise<number | 'busy' | 'forbidden'> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await conn.transaction().execute(async (trx) => {
        await lockPartition(trx, partition);
        const count = options.archive ? await archivePartition(trx, mapping, partition, options.archive, options) : await countPartition(trx, partition);
        await detachPartition(trx, mapping, partition, options.keep);
        return count;
      });
    } catch (error) {
      if (isInsufficientPrivilege(error)) return 'forbidden';
      if (!isLockConflict(error)) throw error;
      if (attempt === DETACH_ATTEMPTS) return 'busy';
      await sleep(DETACH_BACKOFF_MS * 2 ** (attempt - 1));
    }
  }
}

/** Copies a locked partition into the archive, page by page in (timestamp, id) order; returns how many entries. */
async function archivePartition(trx: Db, mapping: ResolvedMapping, partition: TimePartition, archive: ArchiveWriter, options: DetachOptions): Promise<number> {
  let from: Position | undefined;
  let entries = 0;
  for (;;) {
    const page = await readJsonPage(trx, mapping, partitionRef(partition), from, options.pageSize ?? ARCHIVE_PAGE_SIZE);
    if (!page.end) return entries;
    await archive.append(page.json.map(options.mask));
    entries += page.json.length;
    from = page.end;
    options.onArchived?.(entries);
  }
}
