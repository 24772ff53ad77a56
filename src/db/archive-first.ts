import type { Db } from './connect.js';

/** Where entries go before their removal commits (`prune --archive`); `append` resolves once they are on disk. */
export interface EntryArchive {
  append(lines: readonly string[]): Promise<void>;
}

/**
 * The archive-before-commit rule, the one place it is kept: `remove` runs in one transaction and hands every entry it
 * removes to `keep`, which resolves only once the archive holds it on disk; the COMMIT comes after. A crash can leave
 * an archived entry undeleted, never a deleted entry unarchived.
 */
export function removeArchivedFirst<T>(conn: Db, archive: EntryArchive, remove: (trx: Db, keep: (json: readonly string[]) => Promise<void>) => Promise<T>): Promise<T> {
  return conn.transaction().execute((trx) => remove(trx, (json) => archive.append(json)));
}
