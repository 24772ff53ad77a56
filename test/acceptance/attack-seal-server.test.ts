import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { asServerUser, ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { sleep, waitFor } from '../support/wait.js';

// A server of this file's own: prepared transactions need max_prepared_transactions, and a standby a base backup.
let server: OwnPostgres;
let key: string;
let standbyUrl: string;

beforeAll(async () => {
  if (!ownPostgresAvailable) return;
  server = await startOwnPostgres('seal', '-c max_prepared_transactions=4');
  key = join(server.dir, 'seal.key');
  expect((await spawnCli(['seal', '--new-key', '--key', key])).code).toBe(0);
  await asServerUser('pg_basebackup', ['-D', join(server.dir, 'standby'), '-d', server.url, '-R', '-X', 'stream']);
  standbyUrl = `postgres://postgres@127.0.0.1:${await server.startOther('standby')}/postgres`;
}, 120_000);
afterAll(async () => server?.stop());

const seal = (url: string, store: string, ...flags: string[]) => spawnCli(['--db', url, 'seal', '--key', key, '--store', store, ...flags]);
const verify = (url: string, store: string, ...flags: string[]) => spawnCli(['--db', url, 'verify', '--public-key', `${key}.pub`, '--store', store, ...flags]);
const records = async (store: string) => (await readdir(store)).filter((name) => /^seal-\d+\.json$/.test(name));

describe.skipIf(!ownPostgresAvailable)('attack seal: prepared transactions and a standby (own server)', () => {
  it('a prepared transaction holding the table stops the seal at the last one, named; after COMMIT PREPARED its entry is sealed, not inserted', async () => {
    await server.query(`insert into audit_logs (created_at, operator) select now() - interval '1 hour', 'early' from generate_series(1, 5)`);
    const store = join(server.dir, 'prepared-store');
    await mkdir(store);
    const first = await seal(server.url, store, '--json');
    expect(JSON.parse(first.stdout)).toMatchObject({ sealed: true, record: { count: 5 } });

    // Its entry is stamped with its start, and its session is gone: pg_stat_activity no longer shows that start.
    await server.query('begin', `insert into audit_logs (operator) values ('prepared')`, `prepare transaction 'seal-p'`);
    await server.query(`insert into audit_logs (operator) values ('after')`);
    await sleep(400);
    const held = await seal(server.url, store, '--settle', '200ms', '--json');
    expect(held.code, held.stderr).toBe(0);
    expect(held.stderr).toMatch(/^warning: prepared transaction 'seal-p' .*: nothing after the last seal is sealed until it is committed or rolled back/);
    expect(JSON.parse(held.stdout)).toMatchObject({ sealed: false });
    // A first seal into another store seals nothing at all while it is prepared.
    const fresh = join(server.dir, 'fresh-store');
    await mkdir(fresh);
    expect(JSON.parse((await seal(server.url, fresh, '--json')).stdout)).toMatchObject({ sealed: false });
    expect(await records(fresh)).toEqual([]);

    await server.query(`commit prepared 'seal-p'`);
    await sleep(400);
    const after = await seal(server.url, store, '--settle', '200ms', '--json');
    expect(after.stderr).toBe('');
    expect(JSON.parse(after.stdout)).toMatchObject({ sealed: true, record: { count: 2 } });
    const checked = await verify(server.url, store, '--json');
    expect(checked.code, checked.stdout).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ intact: true, unsealed: 0 });
  }, 60_000);

  it('on a standby: seal warns that only --settle guards it and records so; verify there sees what the primary has', async () => {
    await server.query(`insert into audit_logs (created_at, operator) select now() - interval '30 minutes', 'replicated' from generate_series(1, 3)`);
    const lsn = (await server.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn'))[0]?.lsn as string;
    const replayed = async () => {
      const result = await spawnCli(['--db', standbyUrl, 'list', '--operator', 'replicated', '--output', 'json']);
      return result.code === 0 && (JSON.parse(result.stdout) as unknown[]).length === 3;
    };
    await waitFor(replayed, 20_000, `the standby to replay ${lsn}`);
    const store = join(server.dir, 'standby-store');
    await mkdir(store);
    const sealed = await seal(standbyUrl, store, '--json');
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stderr).toMatch(/^warning: connected to a standby.*lands in a sealed range \(verify reports it as inserted, possibly late\); seal from the primary\n$/);
    expect(JSON.parse(sealed.stdout)).toMatchObject({ sealed: true, record: { late_commit_guard: 'settle' } });
    expect((await verify(standbyUrl, store)).code).toBe(0);
    await server.query(`update audit_logs set operator = 'rewritten' where operator = 'replicated'`);
    await waitFor(async () => (await verify(standbyUrl, store)).code !== 0, 20_000, 'the update to reach the standby');
    const { code, stdout } = await verify(server.url, store);
    expect(code).toBe(4);
    expect(stdout.match(/modified: id \d+ .*: operator changed/g)).toHaveLength(3);
  }, 60_000);
});
