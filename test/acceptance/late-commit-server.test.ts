import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { asServerUser, ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';

/**
 * A PostgreSQL of this file's own, in a temp dir on a free port, with a standby: prepared transactions need
 * max_prepared_transactions > 0, which the shared test server does not have (and must not be reconfigured), and a
 * transaction held open for a minute here holds back no other test's export.
 */
const available = ownPostgresAvailable;
let server: OwnPostgres;
let dir: string;
let url: string;
let standbyUrl: string;
const query = <R extends pg.QueryResultRow>(...statements: string[]): Promise<R[]> => server.query<R>(...statements);

/** A control-plane session with a transaction open since now, holding a row stamped with that start. */
async function holdOpen(operator: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'control-plane' });
  await client.connect();
  await client.query('begin');
  await client.query(`insert into audit_logs (operator) values ($1)`, [operator]);
  return client;
}

beforeAll(async () => {
  if (!available) return;
  server = await startOwnPostgres('prepared', '-c max_prepared_transactions=4');
  ({ dir, url } = server);
  await asServerUser('pg_basebackup', ['-D', join(dir, 'standby'), '-d', url, '-R', '-X', 'stream']);
  standbyUrl = `postgres://postgres@127.0.0.1:${await server.startOther('standby')}/postgres`;
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!available)('a prepared transaction', () => {
  it('holds the export at its checkpoint, named on stderr, until it is committed; then its row arrives once', async () => {
    await query(`insert into audit_logs (created_at, operator) select now() - interval '1 hour', 'early' from generate_series(1, 5)`);
    const out = join(dir, 'out.ndjson');
    const checkpoint = join(dir, 'cp.json');
    const exportOnce = () => spawnCli(['--db', url, 'export', '--out', out, '--checkpoint', checkpoint, '--settle', '200ms', '--json']);
    const first = await exportOnce();
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ exported: 5 });
    const saved = await readFile(checkpoint, 'utf8');

    // Its row is stamped with its start; its session is gone, so pg_stat_activity no longer shows that start.
    await query('begin', `insert into audit_logs (operator) values ('prepared')`, `prepare transaction 'cp-h3'`);
    // One that never touched the audit table holds nothing back.
    await query('create table if not exists other (x int)', 'begin', 'insert into other values (1)', `prepare transaction 'cp-other'`);
    await query(`insert into audit_logs (operator) values ('after')`);
    await sleep(500);
    const held = await exportOnce();
    expect(held.code, held.stderr).toBe(0);
    expect(held.stderr).toContain("prepared transaction 'cp-h3'");
    expect(held.stderr).not.toContain('cp-other');
    expect(JSON.parse(held.stdout)).toMatchObject({ exported: 0 });
    expect(await readFile(checkpoint, 'utf8')).toBe(saved);

    await query(`commit prepared 'cp-h3'`);
    const after = await exportOnce();
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).not.toContain('prepared transaction');
    await query(`rollback prepared 'cp-other'`);
    const ids = (await query<{ id: string }>('select id::text id from audit_logs order by id')).map((row) => row.id);
    const sent = (await readFile(out, 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    expect(ids).toHaveLength(7);
    expect([...sent].sort()).toEqual([...ids].sort());
  }, 60_000);

  it('on a standby: warns that only --settle guards the run, and records it', async () => {
    const checkpoint = join(dir, 'standby.json');
    const result = await spawnCli(['--db', standbyUrl, 'export', '--out', join(dir, 'standby.ndjson'), '--checkpoint', checkpoint, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('warning: connected to a standby')]);
    expect(JSON.parse(result.stdout)).toMatchObject({ late_commit_guard: 'settle' });
    expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ late_commit_guard: 'settle' });
  }, 60_000);

  it('a transaction left open for over a minute is named once on stderr; its row arrives after it commits', async () => {
    const out = join(dir, 'long.ndjson');
    const checkpoint = join(dir, 'long.json');
    const exportOnce = () => spawnCli(['--db', url, 'export', '--out', out, '--checkpoint', checkpoint, '--json']);
    const held = await holdOpen('held');
    try {
      const [{ pid }] = (await held.query<{ pid: number }>('select pg_backend_pid() pid')).rows as [{ pid: number }];
      // A minute behind the settle bound (5 s).
      await sleep(66_000);
      const first = await exportOnce();
      expect(first.code, first.stderr).toBe(0);
      const notes = first.stderr.trim().split('\n');
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(new RegExp(`^note: entries from \\S+ on wait for the next run: a transaction open since \\S+ may still commit some \\(pid ${pid}, user postgres, application 'control-plane', idle in transaction\\)$`));
      await held.query('commit');
    } finally {
      await held.end();
    }
    const second = await exportOnce();
    expect(second.code, second.stderr).toBe(0);
    const ids = (await query<{ id: string }>('select id::text id from audit_logs order by id')).map((row) => row.id);
    const sent = (await readFile(out, 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    expect([...sent].sort()).toEqual([...ids].sort());
  }, 120_000);
});
