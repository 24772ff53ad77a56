import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { createDefaultTable, createTestDatabase, createTestSchema, type TestSchema } from '../support/database.js';
import { sleep, waitFor } from '../support/wait.js';

// Ctrl-C while a command's statement waits for a lock another session holds (a migration's ACCESS EXCLUSIVE, say),
// before the server has sent anything. export's first SIGINT did nothing (its COPY's generator, blocked in next(),
// could not be returned, and the pool's end waited for its connection), and list ended at once but left its backend
// queued behind the lock until that was released, as follow did (exit 0: it closes its poll's connection). Expected:
// exit 130 (follow 0) within 2 s, one line, and no backend waiting.

let database: { url: string; drop(): Promise<void> };
let schema: TestSchema;
let locker: pg.Client;
let dir = '';

beforeAll(async () => {
  // A database of its own: the lock's open transaction would hold back the exports of other files (their bound).
  database = await createTestDatabase('lock_wait');
  schema = await createTestSchema('lock_wait', database.url);
  await createDefaultTable(schema);
  await schema.query(`insert into ${schema.table()} (operator, operation, resource_type, resource_id) select 'op', 'update', 'route', 'r' || g from generate_series(1, 20) g`);
  locker = new pg.Client({ connectionString: database.url, application_name: 'migration' });
  await locker.connect();
  dir = await mkdtemp(join(tmpdir(), 'lock-wait-'));
});
afterAll(async () => {
  await locker?.end();
  await schema?.drop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** Statements queued behind a lock on the table: the command's backends still waiting. */
async function waiting(): Promise<number> {
  const { rows } = await schema.query<{ n: number }>(`select count(*)::int as n from pg_locks where relation = $1::regclass and not granted`, [schema.table()]);
  return rows[0]?.n ?? 0;
}

async function interruptWhileLocked(args: string[]): Promise<{ code: number; stderr: string; ms: number }> {
  await locker.query('begin');
  await locker.query(`lock table ${schema.table()} in access exclusive mode`);
  try {
    const running = startCli(['--db', database.url, '--table', schema.table(), ...args], { env: { HOME: '/nonexistent' }, timeoutMs: 20_000 });
    await waitFor(async () => (await waiting()) > 0 || running.exited(), 10_000, 'the command to wait for the lock');
    expect(running.exited(), running.stderr()).toBe(false);
    await sleep(300);
    const sent = Date.now();
    running.child.kill('SIGINT');
    const result = await running.result;
    const ms = Date.now() - sent;
    // The cancel may reach the server a moment after the process exited; a backend still queued after 1 s is left.
    await waitFor(async () => (await waiting()) === 0, 1000, 'no backend to wait for the lock any more').catch(() => undefined);
    expect(await waiting(), 'backends still waiting for the lock after the command ended').toBe(0);
    return { ...result, ms };
  } finally {
    await locker.query('rollback');
  }
}

describe('the first Ctrl-C while a statement waits for a lock', () => {
  it('ends export at once, with one line and no backend left waiting', { timeout: 40_000 }, async () => {
    const result = await interruptWhileLocked(['export', '--out', join(dir, 'out.ndjson'), '--checkpoint', join(dir, 'checkpoint.json')]);
    expect(result.code, result.stderr).toBe(130);
    expect(result.ms, 'exit within 2 s of the first SIGINT').toBeLessThan(2000);
    expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: export interrupted after 0 entries\n$/);
  });

  it('ends follow at once, exit 0, with no backend left waiting', { timeout: 40_000 }, async () => {
    const result = await interruptWhileLocked(['follow', '--since', '1h', '-o', 'ndjson']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.ms, 'exit within 2 s of the first SIGINT').toBeLessThan(2000);
    expect(result.stderr).toMatch(/\nStopped\. Continue with: --since \S+\n$/);
  });

  it('ends list --all at once, with one line and no backend left waiting', { timeout: 40_000 }, async () => {
    for (const output of ['ndjson', 'table']) {
      const result = await interruptWhileLocked(['list', '--all', '--output', output]);
      expect(result.code, result.stderr).toBe(130);
      expect(result.ms, 'exit within 2 s of the first SIGINT').toBeLessThan(2000);
      expect(result.stderr).toBe('error: interrupted (SIGINT)\n');
    }
  });
});
