import { sql } from 'kysely';
import type { Db } from './connect.js';

/**
 * Runs `fn` in a READ ONLY transaction: list, show and export cannot change data even if a query were wrong, and
 * PostgreSQL enforces it, not this tool.
 */
export function withReadOnly<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().setAccessMode('read only').execute(fn);
}

/**
 * Runs `fn` on one connection whose every transaction is READ ONLY (`default_transaction_read_only`), then resets
 * it. For a sequence of statements where one may fail harmlessly: in a single transaction it would abort the rest.
 */
export async function withReadOnlySession<T>(conn: Db, fn: (conn: Db) => Promise<T>): Promise<T> {
  await sql`set session characteristics as transaction read only`.execute(conn);
  try {
    return await fn(conn);
  } finally {
    // Best effort: when the connection is gone, so is the setting.
    await sql`reset default_transaction_read_only`.execute(conn).catch(() => undefined);
  }
}
