import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

let schema: TestSchema;
/** The session that plays the other prune: it holds the table's prune lock. */
let holder: pg.Client;

beforeAll(async () => {
  schema = await createTestSchema('prunelock');
  await createDefaultTable(schema);
  holder = new pg.Client({ connectionString: databaseUrl(), application_name: 'other-prune' });
  await holder.connect();
});
afterAll(async () => {
  await holder?.end();
  await schema?.drop();
});

// The name prune locks (src/commands/prune.ts, pruneLockName), as another client of any version would compute it.
const lockKey = () => `hashtextextended('api7-audit prune ${schema.table()}', 0)`;
const hold = () => holder.query(`select pg_advisory_lock(${lockKey()})`);
const release = () => holder.query(`select pg_advisory_unlock(${lockKey()})`);
const prune = (...extra: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--yes', '--json', ...extra]);
const oldCount = async () => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()} where created_at < now() - interval '30 days'`)).rows[0]?.n);

describe('prune --wait-lock', () => {
  it('without it, a held lock is exit 3 at once, naming the holder pid, its role and --wait-lock; nothing is deleted', async () => {
    await insertRows(schema, [{ age: '40 days' }, { age: '41 days' }]);
    const pid = (holder as unknown as { processID: number }).processID;
    const role = (await holder.query<{ role: string }>('select current_user as role')).rows[0]?.role;
    await hold();
    try {
      const busy = await prune();
      expect(busy.code).toBe(3);
      expect(busy.stdout).toBe('');
      expect(busy.stderr.split('\n')).toHaveLength(2);
      // PGlite serves every client from one backend, with no role or application name in pg_stat_activity.
      if (!isEmbedded()) {
        expect(busy.stderr).toContain(`pid ${pid}`);
        expect(busy.stderr).toContain(`role '${role}'`);
        expect(busy.stderr).toContain(`application 'other-prune'`);
      }
      expect(busy.stderr).toContain('--wait-lock');
      expect(busy.stderr).not.toContain('    at ');

      // Waiting less than the lock is held: still exit 3, saying how long it waited.
      const waited = await prune('--wait-lock', '1s');
      expect(waited.code).toBe(3);
      expect(waited.stderr).toContain('after waiting 1s');
      expect(waited.stderr).toMatch(/pid \d+/);
      expect(await oldCount()).toBe(2);
    } finally {
      await release();
    }
  });

  it('with it, waits for the holder to let go, then prunes', async () => {
    await insertRows(schema, [{ age: '50 days' }, { age: '51 days' }, { age: '1 day' }]);
    await hold();
    let released = false;
    const running = prune('--wait-lock', '5s');
    try {
      // Released while the prune waits: it starts within a second, and a prune that did not wait would have exited 3.
      await sleep(1000);
    } finally {
      await release();
      released = true;
    }
    const result = await running;
    expect(released).toBe(true);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ complete: true, deleted: expect.any(Number) });
    expect(await oldCount()).toBe(0);
    expect(Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()}`)).rows[0]?.n)).toBe(1);
  });

  // A backend left running by a killed client, and a session watching it, need a real server; PGlite is one backend.
  it.skipIf(isEmbedded())('after a kill -9 mid-DELETE, the orphaned backend keeps the lock: exit 3 at once, and --wait-lock gets it when that DELETE ends', async () => {
    const table = schema.table();
    await schema.query(`delete from ${table}`);
    await schema.query(`insert into ${table} (created_at, operator) select now() - interval '90 days' + g * interval '1 s', 'old' from generate_series(1, 30000) g`);
    // Every DELETE statement takes 2 s more, as a large batch on a busy server might.
    await schema.query(`create function ${schema.name}.slow_delete() returns trigger language plpgsql as $$ begin perform pg_sleep(2); return null; end $$`);
    await schema.query(`create trigger slow_delete after delete on ${table} for each statement execute function ${schema.name}.slow_delete()`);
    try {
      const child = spawn(process.execPath, [BIN, '--db', databaseUrl(), '--table', table, 'prune', '--retention-days', '30', '--batch-size', '20000', '--yes'], {
        env: { PATH: process.env.PATH },
        stdio: 'ignore',
      });
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
      const deleting = async () =>
        (await schema.query(`select 1 from pg_stat_activity where application_name = 'api7-audit' and state = 'active' and position($1 in query) > 0 and query like '%delete from%'`, [schema.name]))
          .rowCount;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(await deleting())) await sleep(10);
      child.kill('SIGKILL');
      await exited;

      const busy = await prune();
      expect(busy.code).toBe(3);
      expect(busy.stderr).toContain('--wait-lock');
      const waited = await prune('--wait-lock', '30s', '--batch-size', '20000');
      expect(waited.stderr).toBe('');
      expect(waited.code).toBe(0);
      expect(JSON.parse(waited.stdout)).toMatchObject({ complete: true });
      expect(await oldCount()).toBe(0);
    } finally {
      await schema.query(`drop trigger slow_delete on ${table}`);
    }
  }, 90_000);

  it('refuses a duration it cannot read, naming it (exit 2)', async () => {
    const result = await prune('--wait-lock', 'soon');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`error: invalid --wait-lock 'soon': expected a duration such as 90s, 10m, 2h30m, 1.5h, 7d, 2w\n`);
  });
});
