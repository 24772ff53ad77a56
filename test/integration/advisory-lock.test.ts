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
});
