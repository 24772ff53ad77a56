import type { Db } from './connect.js';

/**
 * Runs `fn` in a READ ONLY transaction: list, show and export cannot change data even if a query were wrong, and
 * PostgreSQL enforces it, not this tool.
 */
export function withReadOnly<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().setAccessMode('read only').execute(fn);
}
