import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli, type Running } from '../support/cli.js';
import { createDefaultTable, createTestDatabase, createTestSchema, isEmbedded, type TestSchema } from '../support/database.js';

/** A --demo start takes 4 s of CPU, minutes on a loaded 2-core machine: longer than spawnCli's default 60 s. */
const DEMO = { timeoutMs: 200_000 };
let schema: TestSchema;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
/** This file's own database: its writers hold transactions open for seconds, which holds back every follow in it. */
const url = () => database.url;
const clients: pg.Client[] = [];

beforeAll(async () => {
  database = await createTestDatabase('follow');
  schema = await createTestSchema('follow', database.url);
  await createDefaultTable(schema);
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  await schema?.drop();
  await database?.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url(), application_name: 'control-plane' });
  await client.connect();
  clients.push(client);
  return client;
}

/** An audit row as the control plane writes it: created_at is the transaction's start (the column default). */
const insert = async (client: pg.Client, operator: string) =>
  (await client.query<{ id: string }>(`insert into ${schema.table()} (operator, operation, resource_type, resource_id, after) values ($1, 'UPDATE', 'route', 'r1', '{"plugins":{"key-auth":{"key":"s3cret"}}}') returning id::text`, [operator])).rows[0]?.id as string;

const followedIds = (running: Running) =>
  running.stdout().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id);

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('follow (built binary, real server)', () => {
  it.skipIf(isEmbedded())('prints every committed entry exactly once, late commits included, across a terminated backend; Ctrl-C exits 0', async () => {
    const follow = startCli(['--db', url(), '--table', schema.table(), 'follow', '--output', 'ndjson', '--interval', '200ms', '--settle', '0'], { timeoutMs: 90_000 });
    await waitFor(() => follow.stderr().includes('Following entries'), 20_000, 'follow to start');
    const writer = await connect();
    const late = [await connect(), await connect(), await connect()];
    const committed: string[] = [];
    const rolledBack: string[] = [];
    // Transactions held open far longer than the interval, committing in another order than they started.
    for (const client of late) await client.query('begin');
    const lateIds = [await insert(late[0] as pg.Client, 'late-0'), await insert(late[1] as pg.Client, 'late-1'), await insert(late[2] as pg.Client, 'late-2')];
    for (let round = 0; round < 10; round++) {
      committed.push(await insert(writer, `writer-${round}`));
      if (round === 3) {
        await late[2]?.query('commit');
        committed.push(lateIds[2] as string);
      }
      if (round === 5) {
        // The backend of follow's session, ended as an administrator would: follow reconnects and goes on.
        const ended = await writer.query<{ n: string }>(
          `select count(pg_terminate_backend(pid)) as n from pg_stat_activity where application_name = 'api7-audit' and datname = current_database()`,
        );
        expect(Number(ended.rows[0]?.n)).toBeGreaterThan(0);
      }
      if (round === 7) {
        await late[0]?.query('rollback');
        rolledBack.push(lateIds[0] as string);
      }
      await sleep(150);
    }
    // The first writer commits last: everything committed after its start waited for it, and is printed after it.
    await sleep(1500);
    await late[1]?.query('commit');
    committed.push(lateIds[1] as string);
    committed.push(await insert(writer, 'writer-last'));
    await waitFor(() => committed.every((id) => followedIds(follow).includes(id)), 30_000, 'every committed id to be followed');
    await sleep(600);
    const stopping = Date.now();
    follow.child.kill('SIGINT');
    const result = await follow.result;
    expect(Date.now() - stopping).toBeLessThan(3000);
    expect(result.code).toBe(0);
    const ids = followedIds(follow);
    expect([...ids].sort()).toEqual([...committed].sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(rolledBack[0]);
    // Printed in (timestamp, id) order, as the table holds them.
    const truth = await schema.query<{ id: string }>(`select id::text as id from ${schema.table()} t order by t.created_at, t.id`);
    expect(ids).toEqual(truth.rows.map((row) => row.id));
    expect(result.stdout).not.toContain('s3cret');
    expect(result.stderr).toMatch(/warning: lost the connection to PostgreSQL \(.*\); reconnecting in [\d.]+s \(attempt 1\)/);
    expect(result.stderr).toContain('reconnected to PostgreSQL; continuing');
    expect(result.stderr).toMatch(/Stopped\. Continue with: --cursor \S+/);
  }, 120_000);

  it.skipIf(isEmbedded())('continues from the cursor it printed; the table header is printed once', async () => {
    const writer = await connect();
    await insert(writer, 'before-cursor');
    const first = startCli(['--db', url(), '--table', schema.table(), 'follow', '--since', '1d', '--interval', '100ms'], { timeoutMs: 60_000 });
    await waitFor(() => first.stdout().includes('before-cursor'), 30_000, 'the first follow to catch up');
    first.child.kill('SIGINT');
    const stopped = await first.result;
    expect(stopped.code).toBe(0);
    expect(stopped.stdout.match(/^ID\s+TIME/gm)).toHaveLength(1);
    const cursor = /--cursor (\S+)/.exec(stopped.stderr)?.[1] as string;
    const next = await insert(writer, 'after-cursor');
    const resumed = startCli(['--db', url(), '--table', schema.table(), 'follow', '--cursor', cursor, '--output', 'ndjson', '--interval', '100ms'], { timeoutMs: 60_000 });
    await waitFor(() => followedIds(resumed).includes(next), 20_000, 'the entry after the cursor');
    const more = await insert(writer, 'after-cursor-2');
    await waitFor(() => followedIds(resumed).includes(more), 20_000, 'a new entry');
    resumed.child.kill('SIGINT');
    expect((await resumed.result).code).toBe(0);
    expect(followedIds(resumed)).toEqual([next, more]);
  }, 90_000);

  it('refuses what it cannot follow: exit 2, one line', async () => {
    for (const args of [['--until', '1h'], ['--output', 'json'], ['--interval', '1'], ['--since', '1h', '--cursor', 'x'], ['--cursor', 'not-a-cursor']]) {
      const result = await spawnCli(['--db', 'postgres://nobody@127.0.0.1:1/none', 'follow', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});

describe('follow on the demo', () => {
  it('prints every demo entry from --since, once, as list has them', async () => {
    // A --demo start takes 4 s of CPU, over a minute on a loaded 2-core machine.
    const follow = startCli(['--demo', 'follow', '--since', '200d', '--output', 'ndjson'], { timeoutMs: 280_000 });
    const listed = await spawnCli(['--demo', 'list', '--all', '--order', 'asc', '--output', 'ndjson'], DEMO);
    const expected = listed.stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id);
    await waitFor(() => followedIds(follow).length >= expected.length, 240_000, 'follow to print the demo entries');
    follow.child.kill('SIGINT');
    expect((await follow.result).code).toBe(0);
    expect(followedIds(follow)).toEqual(expected);
  }, 300_000);
});
