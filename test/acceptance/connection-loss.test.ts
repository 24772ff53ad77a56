import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli, type CliResult, type Running } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';

const TOKEN = 'hec-token';
/** A password in the URL (the server trusts the test user, so it is never checked): it must never be printed. */
const PASSWORD = 'Lost-Conn-Pw-7f3a';

let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  schema = await createTestSchema('connloss');
  await createDefaultTable(schema);
  dir = await mkdtemp(join(tmpdir(), 'api7-connloss-'));
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

function urlWithPassword(): string {
  const url = new URL(databaseUrl());
  url.password = PASSWORD;
  return url.toString();
}

/** HOST:PORT/DB as the error line must name the server. */
function address(): string {
  const url = new URL(databaseUrl());
  return `${url.hostname}:${url.port || 5432}/${url.pathname.slice(1)}`;
}

/**
 * Ends the backends of the binary under test: the tool's application name, and a query on this file's schema, so
 * that backends of other test files running meanwhile are left alone.
 */
async function terminateBackends(): Promise<number> {
  // Two statements: in one, the planner may call pg_terminate_backend before the other conditions exclude a row.
  const { rows } = await schema.query<{ pid: number }>(
    `select pid from pg_stat_activity where application_name = 'api7-audit' and pid <> pg_backend_pid() and position($1 in query) > 0`,
    [schema.name],
  );
  const pids = rows.map((row) => row.pid);
  await schema.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [pids]);
  return pids.length;
}

/** Starts the binary against this file's database; killed with SIGKILL after `timeoutMs` at the latest. */
const start = (argv: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Running =>
  startCli(argv, { env: { ...dbEnv(), ...env }, timeoutMs });

/** Polls `ready` every 10 ms for at most `limitMs`; whether it became true. */
async function waitFor(ready: () => boolean | Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await ready()) return true;
    await sleep(10);
  }
  return false;
}

/** Waits until `ready`, then terminates the run's backends (a few tries, in case it was between connections). */
async function terminateWhen(run: Running, ready: () => boolean | Promise<boolean>): Promise<void> {
  expect(await waitFor(async () => run.exited() || (await ready()), 30_000)).toBe(true);
  if (run.exited()) expect.fail(`the run ended before its connection could be cut: ${JSON.stringify(await run.result)}`);
  expect(await waitFor(async () => run.exited() || (await terminateBackends()) > 0, 5_000)).toBe(true);
}

/** The URL, password and all, where a cron job keeps it: in the environment (on argv it would draw a warning). */
const dbEnv = () => ({ API7_AUDIT_DATABASE_URL: urlWithPassword() });

/** One line on stderr, naming the server and the command, exit 1, no stack trace, no password. */
function expectLostLine(result: CliResult, activity: string): void {
  expect(result.code).toBe(1);
  const escaped = address().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(result.stderr).toMatch(new RegExp(`^error: lost the connection to PostgreSQL at ${escaped} during ${activity}: [^\\n]+\\n$`));
  expect(result.stderr).not.toContain('    at ');
  expect(result.stderr).not.toContain('Unhandled');
  expect(result.stdout + result.stderr).not.toContain(PASSWORD);
}

describe('prune when its connection is lost', () => {
  const OLD = 40_000;
  const BATCH = 100;

  // pg_terminate_backend and a second session watching the first need a real server; PGlite is one backend.
  it.skipIf(isEmbedded())('prints what it deleted, says so in one line, exits 1; reruns finish with nothing old left and nothing new touched', async () => {
    const table = schema.table();
    // Old rows (100 days) go; rows of 29 days and 1 hour stay, whatever the runs do.
    await schema.query(
      `insert into ${table} (created_at, operator, operation, resource_type, resource_id, after)
       select now() - interval '100 days' + (g / 2) * interval '10 ms', 'op-' || (g % 5), 'update', 'route', 'r-' || g, jsonb_build_object('n', g)
       from generate_series(1, ${OLD}) g`,
    );
    await schema.query(
      `insert into ${table} (created_at, operator, operation, resource_type, resource_id, after)
       select now() - interval '29 days' + g * interval '1 minute', 'keeper', 'update', 'route', 'k-' || g, jsonb_build_object('k', g)
       from generate_series(1, 500) g`,
    );
    // Each DELETE takes a few ms more, so a run lasts long enough to be cut mid-way.
    await schema.query(`create function ${schema.name}.slow_delete() returns trigger language plpgsql as $$ begin perform pg_sleep(0.004); return null; end $$`);
    await schema.query(`create trigger slow_delete after delete on ${table} for each statement execute function ${schema.name}.slow_delete()`);
    const kept = async () => (await schema.query<{ sum: string }>(`select md5(string_agg(t::text, ',' order by id)) as sum from ${table} t where created_at >= now() - interval '30 days'`)).rows[0]?.sum;
    const old = async () => Number((await schema.query<{ n: string }>(`select count(*) as n from ${table} where created_at < now() - interval '30 days'`)).rows[0]?.n);
    const keptBefore = await kept();
    const args = ['--table', table, 'prune', '--retention-days', '30', '--batch-size', String(BATCH), '--yes', '--json'];

    let remaining = OLD;
    for (const round of [1, 2, 3]) {
      const run = start(args);
      const before = remaining;
      // Cut after a few batches of this run have committed, at a moment the test does not choose more precisely.
      await terminateWhen(run, async () => (await old()) <= before - (round * 7 + 3) * BATCH);
      const result = await run.result;
      expectLostLine(result, 'prune');
      const summary = JSON.parse(result.stdout) as { deleted: number; complete: boolean; stopped: string };
      expect(summary).toMatchObject({ complete: false, stopped: 'connection-lost' });
      remaining = await old();
      // The summary counts the batches it saw committed; only the one in flight may have committed unseen.
      expect(summary.deleted).toBeGreaterThan(0);
      expect(before - remaining).toBeGreaterThanOrEqual(summary.deleted);
      expect(before - remaining).toBeLessThanOrEqual(summary.deleted + BATCH);
    }

    const rerun = await spawnCli(args, { env: dbEnv() });
    expect(rerun.stderr).toBe('');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ complete: true, stopped: null, deleted: remaining });
    expect(await old()).toBe(0);
    expect(await kept()).toBe(keptBefore);
  });
});

describe('prune --archive when its connection is lost', () => {
  // pg_terminate_backend and a second session watching the first need a real server; PGlite is one backend.
  it.skipIf(isEmbedded())('leaves no deleted entry unarchived, and the rerun archives and deletes the rest', async () => {
    const table = schema.table('archive_logs');
    await schema.query(`create table ${table} (like ${schema.table()} including all)`);
    await schema.query(
      `insert into ${table} (created_at, operator, operation, resource_id, after)
       select now() - interval '90 days' + g * interval '1 s', 'old', 'update', 'r-' || g, jsonb_build_object('n', g) from generate_series(1, 20000) g`,
    );
    await schema.query(`insert into ${table} (created_at, operator) select now() - interval '1 day' + g * interval '1 s', 'new' from generate_series(1, 100) g`);
    await schema.query(`create function ${schema.name}.slow_archive() returns trigger language plpgsql as $$ begin perform pg_sleep(0.004); return null; end $$`);
    await schema.query(`create trigger slow_archive after delete on ${table} for each statement execute function ${schema.name}.slow_archive()`);
    const oldIds = (await schema.query<{ id: string }>(`select id::text from ${table} where operator = 'old'`)).rows.map((row) => row.id);
    const left = async () => new Set((await schema.query<{ id: string }>(`select id::text from ${table}`)).rows.map((row) => row.id));
    const archive = join(dir, 'pruned.ndjson');
    const archived = async () => new Set((await readFile(archive, 'utf8')).trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id));
    const args = ['--table', table, 'prune', '--retention-days', '30', '--batch-size', '100', '--archive', archive, '--yes', '--json'];

    const run = start(args);
    await terminateWhen(run, async () => (await left()).size < 20100 - 1500);
    const result = await run.result;
    expectLostLine(result, 'prune');
    expect(JSON.parse(result.stdout)).toMatchObject({ complete: false, stopped: 'connection-lost' });
    const remaining = await left();
    const deleted = oldIds.filter((id) => !remaining.has(id));
    expect(deleted.length).toBeGreaterThan(0);
    const inArchive = await archived();
    expect(deleted.filter((id) => !inArchive.has(id))).toEqual([]);

    const rerun = await spawnCli(args, { env: dbEnv() });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ complete: true });
    expect([...(await left())].length).toBe(100);
    const all = await archived();
    expect(oldIds.filter((id) => !all.has(id))).toEqual([]);
  });
});

describe('export when its connection is lost', () => {
  const ENTRIES = 20_000;

  // pg_terminate_backend needs a real server; PGlite is one backend.
  it.skipIf(isEmbedded())('writes the checkpoint of what was confirmed, says so in one line, exits 1; the rerun sends the rest with no gap', async () => {
    const table = schema.table('export_logs');
    await schema.query(`create table ${table} (like ${schema.table()} including all)`);
    await schema.query(
      `insert into ${table} (created_at, operator, operation, resource_type, resource_id, after)
       select now() - interval '2 hours' + (g / 3) * interval '1 ms', 'user-' || (g % 7), 'update', 'route', 'r-' || g,
              jsonb_build_object('n', g, 'note', repeat('x', 500))
       from generate_series(1, ${ENTRIES}) g`,
    );
    const ids = (await schema.query<{ id: string }>(`select id::text from ${table} order by created_at, id`)).rows.map((row) => row.id);
    // Every request is stored, then answered 20 ms later: the run takes seconds, with batches in flight when cut, and
    // its 10 MB cannot all wait in socket buffers, so the COPY is still running.
    const { server, hec } = await FakeHec.start({ token: TOKEN, slowRate: 1, slowMs: 20 });
    try {
      const checkpoint = join(dir, 'export.json');
      const args = ['--table', table, 'export', '--hec-url', server.url, '--checkpoint', checkpoint, '--batch-size', '50', '--concurrency', '2'];
      const env = { API7_AUDIT_HEC_TOKEN: TOKEN };
      const run = start(args, env);
      await terminateWhen(run, () => server.requestCount >= 20);
      const result = await run.result;
      expectLostLine(result, 'export');

      // The checkpoint names a position every entry up to which reached the receiver.
      const position = readPosition(await readFile(checkpoint, 'utf8'));
      const upTo = ids.indexOf(position.id);
      expect(upTo).toBeGreaterThanOrEqual(0);
      expect(upTo).toBeLessThan(ids.length - 1);
      const missing = ids.slice(0, upTo + 1).filter((id) => !hec.ids.has(id));
      expect(missing).toEqual([]);

      const rerun = await spawnCli(args, { env: { ...dbEnv(), ...env } });
      expect(rerun.stderr).not.toContain('error');
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(ids.filter((id) => !hec.ids.has(id))).toEqual([]);
      // The batches in flight when the connection went were confirmed and checkpointed before the exit: none is resent.
      expect(hec.ids.duplicates).toBe(0);
    } finally {
      await server.close();
    }
  });
});

describe('list when its connection is lost', () => {
  const ENTRIES = 60_000;

  // pg_terminate_backend needs a real server; PGlite is one backend.
  it.skipIf(isEmbedded())('keeps what it printed whole, says so in one line, exits 1; a rerun lists every entry', async () => {
    const table = schema.table('list_logs');
    await schema.query(`create table ${table} (like ${schema.table()} including all)`);
    await schema.query(
      `insert into ${table} (created_at, operator, operation, resource_type, resource_id, before, after)
       select now() - interval '3 days' + g * interval '1 s', 'user-' || (g % 7), 'update', 'route', 'r-' || g,
              jsonb_build_object('uri', '/old/' || g), jsonb_build_object('uri', '/new/' || g, 'note', repeat('x', 200))
       from generate_series(1, ${ENTRIES}) g`,
    );
    const args = ['--table', table, 'list', '--all', '--output', 'ndjson'];
    const run = start(args);
    await terminateWhen(run, () => run.stdout().length > 200_000);
    const result = await run.result;
    expectLostLine(result, 'list');
    const lines = result.stdout.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBeLessThan(ENTRIES);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();

    const rerun = await spawnCli(args, { env: dbEnv() });
    expect(rerun.code, rerun.stderr).toBe(0);
    const all = rerun.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    expect(new Set(all).size).toBe(ENTRIES);
  });
});

/** The position in a checkpoint file, whichever version wrote it. */
function readPosition(text: string): { timestamp: string; id: string } {
  const data = JSON.parse(text) as { timestamp: string; id: string; position?: { timestamp: string; id: string } };
  return data.position ?? { timestamp: data.timestamp, id: data.id };
}
