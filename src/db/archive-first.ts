import type { Db } from './connect.js';

/** Where entries go before their removal commits (`prune --archive`); `append` resolves once they are on disk. */
export interface EntryArchive {
  append(lines: readonly string[]): Promise<void>;
  /** Where the archive ends now, for {@link EntryArchive.cut}. */
  mark(): ArchiveMark;
  /** Takes back everything appended after `mark` (entries of a transaction that rolled back), on disk. */
  cut(mark: ArchiveMark): Promise<void>;
}

export interface ArchiveMark {
  size: number;
  entries: number;
}

/**
 * The archive-before-commit rule, the one place it is kept: `remove` runs in one transaction and hands every entry it
 * removes to `keep`, which resolves only once the archive holds it on disk; the COMMIT comes after. A crash can leave
 * an archived entry undeleted, never a deleted entry unarchived. When `remove` fails, the transaction never commits
 * (no COMMIT is sent), so what it archived is taken back: a retried detach would otherwise archive a partition again
 * for every attempt. A failed COMMIT is not: it may have committed.
 */
export function removeArchivedFirst<T>(conn: Db, archive: EntryArchive, remove: (trx: Db, keep: (json: readonly string[]) => Promise<void>) => Promise<T>): Promise<T> {
  return conn.transaction().execute(async (trx) => {
    const mark = archive.mark();
    try {
      return await remove(trx, (json) => archive.append(json));
    } catch (error) {
      await archive.cut(mark);
      throw error;
    }
  });
}
