import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHolder, releaseAdvisoryLock, tryAdvisoryLock } from '../../src/db/advisory-lock.js';
import { withDatabase } from '../../src/db/connect.js';
import { databaseUrl, isEmbedded } from '../support/database.js';

const NAME = `api7-audit-test-lock-${process.pid}`;
const settings = { target: { url: databaseUrl(), libpq: {}, source: '--db' as const }, connectTimeoutMs: 5000 };
let other: pg.Client;

beforeAll(async () => {
  other = new pg.Client({ connectionString: databaseUrl(), application_name: 'lock-holder' });
  await other.connect();
});
afterAll(async () => {
  await other?.end();
});

describe('advisory lock', () => {
  it('names the session that holds the lock, whether it is seen before trying or looked up after losing', async () => {
    await withDatabase(settings, (db) =>
      db.connection().execute(async (conn) => {
        expect(await findHolder(conn, NAME)).toBeUndefined();
        await other.query('select pg_advisory_lock(hashtextextended($1, 0))', [NAME]);
        try {
          const holderPid = isEmbedded() ? expect.any(Number) : (other as unknown as { processID: number }).processID;
          expect(await findHolder(conn, NAME)).toMatchObject({ pid: holderPid });
          expect(await tryAdvisoryLock(conn, NAME)).toMatchObject({ acquired: false, holder: { pid: holderPid } });
        } finally {
          await other.query('select pg_advisory_unlock(hashtextextended($1, 0))', [NAME]);
        }
        expect(await tryAdvisoryLock(conn, NAME)).toEqual({ acquired: true });
        await releaseAdvisoryLock(conn, NAME);
      }),
    );
  });

  it.skipIf(isEmbedded())("'since' is when the holding session began, not its current transaction (prune holds the lock across batches)", async () => {
    const started = (await other.query<{ at: string }>("select to_char(backend_start at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') as at from pg_stat_activity where pid = pg_backend_pid()")).rows[0]?.at;
    await other.query('select pg_advisory_lock(hashtextextended($1, 0))', [NAME]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await other.query('begin');
    try {
      await other.query('select 1');
      const holder = await withDatabase(settings, (db) => db.connection().execute((conn) => findHolder(conn, NAME)));
      expect(holder?.since).toBe(started);
    } finally {
      await other.query('commit');
      await other.query('select pg_advisory_unlock(hashtextextended($1, 0))', [NAME]);
    }
  });
});
