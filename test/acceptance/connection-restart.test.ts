import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli, type CliResult, type Running } from '../support/cli.js';
import { FakeHec } from '../support/fake-hec.js';
import { ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';

// A PostgreSQL of this file's own (test/support/own-postgres.ts), restarted under a running binary. The shared test
// server is never restarted.
const TOKEN = 'hec-token';
const available = ownPostgresAvailable;
let postgres: OwnPostgres;
let dir: string;
let port: number;
let url: string;
const query = <R extends pg.QueryResultRow>(text: string): Promise<R[]> => postgres.query<R>(text);

beforeAll(async () => {
  if (!available) return;
  postgres = await startOwnPostgres('restart');
  ({ dir, port, url } = postgres);
}, 120_000);

afterAll(async () => {
  await postgres?.stop();
});

const start = (argv: string[], env: NodeJS.ProcessEnv = {}): Running => startCli(argv, { env, timeoutMs: 90_000 });

/** Polls `ready` every 20 ms for at most 30 s. */
async function waitFor(ready: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await ready()) return true;
    await sleep(20);
  }
  return false;
}

function expectLostLine(result: CliResult, activity: string): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^error: lost the connection to PostgreSQL at 127\\.0\\.0\\.1:${port}/postgres during ${activity}: [^\\n]+\\n$`));
  expect(result.stderr).not.toContain('    at ');
  expect(result.stderr).not.toContain('Unhandled');
}

describe('a server restarted under a running command', () => {
  it.skipIf(!available).each(['immediate', 'fast'])('prune during pg_ctl restart -m %s: summary, one line, exit 1; the rerun leaves nothing old and touches nothing new', async (mode) => {
    await query(`truncate audit_logs`);
    await query(
      `insert into audit_logs (created_at, operator, operation, resource_id, after)
       select now() - interval '100 days' + g * interval '10 ms', 'old', 'update', 'r-' || g, jsonb_build_object('n', g) from generate_series(1, 40000) g`,
    );
    await query(`insert into audit_logs (created_at, operator) select now() - interval '29 days' + g * interval '1 s', 'keeper' from generate_series(1, 300) g`);
    await query(`create or replace function slow_delete() returns trigger language plpgsql as $$ begin perform pg_sleep(0.004); return null; end $$`);
    await query(`create or replace trigger slow_delete after delete on audit_logs for each statement execute function slow_delete()`);
    const kept = async () => (await query<{ sum: string }>(`select md5(string_agg(t::text, ',' order by id)) as sum from audit_logs t where operator = 'keeper'`))[0]?.sum;
    const old = async () => Number((await query<{ n: string }>(`select count(*) as n from audit_logs where operator = 'old'`))[0]?.n);
    const keptBefore = await kept();
    const args = ['--db', url, 'prune', '--retention-days', '30', '--batch-size', '100', '--yes', '--json'];

    const running = start(args);
    expect(await waitFor(async () => running.exited() || (await old()) < 38_000)).toBe(true);
    expect(running.exited()).toBe(false);
    await postgres.restart(mode as 'fast' | 'immediate');
    const result = await running.result;
    expectLostLine(result, 'prune');
    expect(JSON.parse(result.stdout)).toMatchObject({ complete: false, stopped: 'connection-lost' });

    const rerun = await spawnCli(args);
    expect(rerun.stderr).toBe('');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ complete: true });
    expect(await old()).toBe(0);
    expect(await kept()).toBe(keptBefore);
  }, 90_000);

  it.skipIf(!available).each(['fast', 'immediate'])('export during pg_ctl restart -m %s: checkpoint of what was confirmed, one line, exit 1; the rerun sends the rest', async (mode) => {
    await query(`drop trigger if exists slow_delete on audit_logs`);
    await query(`truncate audit_logs`);
    await rm(join(dir, 'export.json'), { force: true });
    await query(
      `insert into audit_logs (created_at, operator, operation, resource_id, after)
       select now() - interval '2 hours' + (g / 3) * interval '1 ms', 'op', 'update', 'r-' || g, jsonb_build_object('n', g, 'note', repeat('x', 500))
       from generate_series(1, 20000) g`,
    );
    const ids = (await query<{ id: string }>(`select id::text from audit_logs order by created_at, id`)).map((row) => row.id);
    const { server, hec } = await FakeHec.start({ token: TOKEN, slowRate: 1, slowMs: 20 });
    try {
      const checkpoint = join(dir, 'export.json');
      const args = ['--db', url, 'export', '--hec-url', server.url, '--checkpoint', checkpoint, '--batch-size', '50', '--concurrency', '2'];
      const env = { API7_AUDIT_HEC_TOKEN: TOKEN };
      const running = start(args, env);
      expect(await waitFor(() => running.exited() || server.requestCount >= 20)).toBe(true);
      expect(running.exited()).toBe(false);
      await postgres.restart(mode as 'fast' | 'immediate');
      const result = await running.result;
      expectLostLine(result, 'export');

      const data = JSON.parse(await readFile(checkpoint, 'utf8')) as { id: string; position?: { id: string } };
      const upTo = ids.indexOf(data.position?.id ?? data.id);
      expect(upTo).toBeGreaterThanOrEqual(0);
      expect(upTo).toBeLessThan(ids.length - 1);
      expect(ids.slice(0, upTo + 1).filter((id) => !hec.ids.has(id))).toEqual([]);

      const rerun = await spawnCli(args, { env });
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(ids.filter((id) => !hec.ids.has(id))).toEqual([]);
      // The batches in flight when the connection went were confirmed and checkpointed before the exit: none is resent.
      expect(hec.ids.duplicates).toBe(0);
    } finally {
      await server.close();
    }
  }, 90_000);
});
