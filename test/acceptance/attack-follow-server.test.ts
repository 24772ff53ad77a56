import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { asServerUser, ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { seededRandom } from '../support/random.js';
import { interruptAtOnce, ndjsonIds, sleep, waitFor } from '../support/wait.js';

/**
 * Attacks on `follow` that need a server of this file's own: prepared transactions (max_prepared_transactions),
 * terminated backends, restarts (fast and immediate), a stalled backend, a server that is down.
 */
let server: OwnPostgres;
const clients: pg.Client[] = [];

beforeAll(async () => {
  if (ownPostgresAvailable) server = await startOwnPostgres('attack-follow', '-c max_prepared_transactions=5');
}, 120_000);
afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  await server?.stop();
});

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.url, application_name: 'control-plane' });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

const insert = async (client: pg.Client, operator: string) =>
  (await client.query<{ id: string }>(`insert into audit_logs (operator, operation, resource_type, resource_id, after) values ($1, 'CREATE', 'consumer', 'c1', '{"plugins":{"basic-auth":{"password":"s3cret"}}}') returning id::text`, [operator])).rows[0]?.id as string;


const follow = (...args: string[]) => startCli(['--db', server.url, 'follow', '--output', 'ndjson', '--interval', '100ms', ...args], { timeoutMs: 120_000 });

/** The table's ids from `afterId` on, in (timestamp, id) order (id as a number: as text, '10' sorts before '8'). */
const tableIds = async (afterId = '0') =>
  (await server.query<{ id: string }>(`select id from audit_logs where id > ${Number(afterId)} order by created_at, id`)).map((row) => row.id);

const lastId = async () => (await server.query<{ id: string | null }>('select max(id)::text as id from audit_logs'))[0]?.id ?? '0';

describe.skipIf(!ownPostgresAvailable)('follow against a server of its own', () => {
  it('a prepared transaction holds the stream (named once); after COMMIT PREPARED its entry comes in its place; ROLLBACK PREPARED releases it', async () => {
    const start = await lastId();
    const running = follow('--settle', '0');
    await waitFor(() => running.stderr().includes('Following entries'), 30_000, 'follow to start');
    const writer = await connect();
    const before = [await insert(writer, 'before-1'), await insert(writer, 'before-2')];
    await waitFor(() => before.every((id) => ndjsonIds(running.stdout()).includes(id)), 20_000, 'the first entries');

    const holder = await connect();
    await holder.query('begin');
    const held = await insert(holder, 'prepared');
    await holder.query(`prepare transaction 'attack-follow-gid'`);
    const after = [await insert(writer, 'after-1'), await insert(writer, 'after-2')];
    await sleep(1500);
    expect(ndjsonIds(running.stdout()), 'nothing after the prepared transaction is printed while it is prepared').toEqual(before);
    expect(running.stderr().match(/attack-follow-gid/g), running.stderr()).toHaveLength(1);
    await writer.query(`commit prepared 'attack-follow-gid'`);
    await waitFor(() => after.every((id) => ndjsonIds(running.stdout()).includes(id)), 20_000, 'the entries after it');

    await holder.query('begin');
    const dropped = await insert(holder, 'rolled-back');
    await holder.query(`prepare transaction 'attack-follow-gid-2'`);
    const last = await insert(writer, 'last');
    await sleep(1000);
    await writer.query(`rollback prepared 'attack-follow-gid-2'`);
    await waitFor(() => ndjsonIds(running.stdout()).includes(last), 20_000, 'the entry after the rolled back one');
    await sleep(300);
    const result = await interruptAtOnce(running);
    const ids = ndjsonIds(result.stdout);
    expect(ids).not.toContain(dropped);
    expect(ids).toContain(held);
    expect(ids).toEqual(await tableIds(start));
    expect(result.stdout).not.toContain('s3cret');
  }, 90_000);

  it('backends terminated 3 times, a fast and an immediate restart, under a steady writer: every entry once, in order, each loss said on one line', async () => {
    const seed = Number(process.env.ATTACK_FOLLOW_SEED ?? Date.now() % 100_000);
    const rand = seededRandom(seed);
    const start = await lastId();
    const running = follow('--settle', '1s');
    await waitFor(() => running.stderr().includes('Following entries'), 30_000, 'follow to start');
    let writing = true;
    // The writer reconnects after each fault; whether an insert in flight then committed is read from the table.
    const writer = (async () => {
      let client: pg.Client | undefined;
      for (let n = 0; writing && n < 2000; n++) {
        try {
          client ??= await connect();
          await insert(client, `steady-${n}`);
        } catch {
          client = undefined;
        }
        await sleep(30);
      }
    })();
    const reconnects = () => running.stderr().match(/reconnected to PostgreSQL/g)?.length ?? 0;
    try {
      const faults: (() => Promise<unknown>)[] = [
        ...Array.from({ length: 3 }, () => () => server.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'api7-audit'`)),
        () => server.restart('fast'),
        () => server.restart('immediate'),
      ];
      for (const [index, fault] of faults.entries()) {
        await sleep(300 + Math.floor(rand() * 1200));
        await fault();
        await waitFor(() => reconnects() > index || running.exited(), 40_000, `follow to reconnect after fault ${index + 1} (seed ${seed})`);
      }
      await sleep(500);
    } finally {
      writing = false;
      await writer;
    }
    const expected = await tableIds(start);
    await waitFor(() => ndjsonIds(running.stdout()).length >= expected.length || running.exited(), 30_000, `follow to catch up (seed ${seed})`);
    await sleep(300);
    const result = await interruptAtOnce(running);
    const ids = ndjsonIds(result.stdout);
    expect(new Set(ids).size, `seed ${seed}: no entry printed twice`).toBe(ids.length);
    expect(ids, `seed ${seed}: every entry, in order`).toEqual(expected);
    expect(result.stderr.match(/^warning: lost the connection to PostgreSQL \(.+\); reconnecting in [\d.]+s \(attempt \d+\)$/gm)?.length).toBeGreaterThanOrEqual(5);
    expect(result.stderr).not.toMatch(/\n\s+at |Error:/);
    expect(result.stderr).toMatch(/Stopped\. Continue with: --cursor \S+/);
  }, 120_000);

  it('Ctrl-C exits 0 at once while its backend is stalled (SIGSTOP), and while it waits to reconnect to a stopped server', async () => {
    await insert(await connect(), 'before-stall');
    const running = follow('--since', '1h', '--settle', '0');
    await waitFor(() => ndjsonIds(running.stdout()).length > 0, 30_000, 'the first entries');
    const [backend] = await server.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = 'api7-audit'`);
    expect(backend).toBeDefined();
    process.kill(backend?.pid as number, 'SIGSTOP');
    try {
      await sleep(800);
      const result = await interruptAtOnce(running);
      expect(result.stderr).toMatch(/Stopped\. Continue with: --cursor \S+/);
    } finally {
      process.kill(backend?.pid as number, 'SIGCONT');
    }

    const again = follow('--since', '1h', '--settle', '0');
    await waitFor(() => ndjsonIds(again.stdout()).length > 0, 30_000, 'the first entries');
    await asServerUser('pg_ctl', ['-D', join(server.dir, 'data'), '-w', '-t', '60', '-m', 'fast', 'stop']);
    try {
      await waitFor(() => /reconnecting in/.test(again.stderr()), 20_000, 'follow to retry');
      const result = await interruptAtOnce(again);
      expect(result.stderr).toMatch(/Stopped\. Continue with: --cursor \S+/);
    } finally {
      await server.restart('fast');
    }
  }, 90_000);

  it('a role that cannot see other sessions is warned once, however many sessions come and go', async () => {
    await server.query('create role follow_watcher login', 'grant select on audit_logs to follow_watcher');
    const url = new URL(server.url);
    url.username = 'follow_watcher';
    const running = startCli(['--db', url.toString(), 'follow', '--interval', '100ms', '--output', 'ndjson'], { timeoutMs: 60_000 });
    await waitFor(() => running.stderr().includes('Following entries'), 30_000, 'follow to start');
    // 1, 2, 3, then 4 hidden sessions at once, each seen by several polls.
    const sessions: pg.Client[] = [];
    for (let n = 0; n < 4; n++) {
      sessions.push(await connect());
      await sleep(400);
    }
    await Promise.all(sessions.map((client) => client.end()));
    const result = await interruptAtOnce(running);
    expect(result.stderr.match(/cannot see the transactions of \d+ other session/g), result.stderr).toHaveLength(1);
    expect(result.stderr).toContain('GRANT pg_read_all_stats TO follow_watcher');
  }, 60_000);

  it('a poll cancelled by the role\'s statement_timeout behind a lock, or by pg_cancel_backend, is polled again: nothing lost, exit 0', async () => {
    await server.query(`create role follow_timed login in role pg_read_all_stats`, 'grant select on audit_logs to follow_timed', `alter role follow_timed set statement_timeout = '500ms'`);
    const url = new URL(server.url);
    url.username = 'follow_timed';
    const start = await lastId();
    const running = startCli(['--db', url.toString(), 'follow', '--interval', '100ms', '--settle', '0', '--output', 'ndjson'], { timeoutMs: 60_000 });
    await waitFor(() => running.stderr().includes('Following entries'), 30_000, 'follow to start');
    const writer = await connect();
    const first = await insert(writer, 'before-lock');
    await waitFor(() => ndjsonIds(running.stdout()).includes(first), 20_000, 'the first entry');
    const locker = await connect();
    await locker.query('begin');
    await locker.query('lock table audit_logs in access exclusive mode');
    await sleep(1500);
    // While the poll waits for the lock, an administrator cancels it as well.
    await server.query(`select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'api7-audit' and wait_event_type = 'Lock'`);
    await sleep(300);
    await locker.query('commit');
    const second = await insert(writer, 'after-lock');
    await waitFor(() => ndjsonIds(running.stdout()).includes(second) || running.exited(), 20_000, 'the entry after the lock');
    const result = await interruptAtOnce(running);
    expect(result.stderr).toMatch(/warning: a poll was cancelled \(canceling statement due to statement timeout\); polling again in [\d.]+s \(attempt 1\)/);
    expect(result.stderr).toContain('polled again; continuing after');
    expect(ndjsonIds(result.stdout)).toEqual(await tableIds(start));
  }, 60_000);
});
