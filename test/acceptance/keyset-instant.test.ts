import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { spawnCli, startCli } from '../support/cli.js';
import { createTestDatabase, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import { FakeServer, type FakeReply, type FakeRequest, type Protocol } from '../support/fake-server.js';
import { ndjsonIds, waitFor } from '../support/wait.js';

// H39: export's checkpoint and history's pages and --at on timestamps whose printed instant cannot stand for the raw
// column exactly (an epoch finer than microseconds; a local time in the hour skipped in spring), through the binary.

let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-h39-keyset-'));
  schema = await createTestSchema('acc_h39_keyset');
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const COLUMNS = 'operator text, operation text, resource_type text, resource_id text, source_ip inet, before jsonb, after jsonb';
const TOKEN = 'hec-token';

async function writeConfig(name: string, timestamp: string, table: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `table: ${table}\ncolumns:\n  timestamp: ${timestamp}\n`, { mode: 0o600 });
  return path;
}

const sqlIds = async (query: string): Promise<string[]> => (await schema.query<{ id: string }>(query)).rows.map((row) => row.id);

/** HEC that stores the first `accept` requests, then answers 400 (a 4xx ends the run at once, after the checkpoint). */
class CutHec implements Protocol {
  private handled = 0;
  constructor(readonly hec: FakeHec, private readonly accept: number) {}
  handle(request: FakeRequest): FakeReply {
    this.handled += 1;
    return this.handled <= this.accept ? this.hec.handle(request) : { status: 400, body: '{"text":"Invalid data format","code":6}' };
  }
  failure(status: number): FakeReply {
    return this.hec.failure(status);
  }
  discardReply(): FakeReply {
    return this.hec.discardReply();
  }
}

const newCheckpoint = () => join(dir, `${Math.random().toString(36).slice(2)}.checkpoint.json`);

/**
 * Exports with one checkpoint file, each run cut after `accept` one-entry batches, until a run ends on its own or
 * `maxRuns` ran. The ids every destination stored, in the order they arrived, and whether the last run finished.
 */
async function exportRuns(config: string, accept: number, maxRuns: number, checkpoint: string, settle = '0s'): Promise<{ shipped: string[]; finished: boolean }> {
  const shipped: string[] = [];
  for (let run = 0; run < maxRuns; run += 1) {
    const cut = new CutHec(new FakeHec({ token: TOKEN }), accept);
    const server = await new FakeServer(cut).start();
    try {
      const result = await spawnCli(
        ['--db', databaseUrl(), '--config', config, 'export', '--hec-url', server.url, '--checkpoint', checkpoint,
          '--batch-size', '1', '--concurrency', '1', '--settle', settle, '--json'],
        { env: { API7_AUDIT_HEC_TOKEN: TOKEN } },
      );
      shipped.push(...cut.hec.ids.ids);
      if (result.code === 0) return { shipped, finished: true };
      expect(result.stderr).toMatch(/400|Invalid data format/);
    } finally {
      await server.close();
    }
  }
  return { shipped, finished: false };
}

/** {@link exportRuns} to the end; bounded in runs. */
async function exportInCuts(config: string, accept: number, maxRuns: number, checkpoint = newCheckpoint(), settle = '0s'): Promise<string[]> {
  const { shipped, finished } = await exportRuns(config, accept, maxRuns, checkpoint, settle);
  if (!finished) throw new Error(`export still cut after ${maxRuns} runs (${shipped.length} entries shipped, ${new Set(shipped).size} distinct)`);
  return shipped;
}

describe('export continues after its checkpoint exactly', () => {
  it('an epoch float8 column finer than microseconds, later raw values on smaller ids: every entry once, in printed order', { timeout: 120_000 }, async () => {
    const table = schema.table('export_float');
    await schema.query(`create table ${table} (id bigint primary key, ts float8 not null, ${COLUMNS})`);
    // 3 to 4 entries per microsecond, raw 0.3 µs apart, ids falling as the raw value rises.
    await schema.query(`insert into ${table} (id, ts, operator, operation) select 100 - g, 1772323200.1234567 + g * 0.0000003, 'op', 'update' from generate_series(1, 40) g`);
    expect(Number((await schema.query<{ n: string }>(`select count(distinct ts) as n from ${table}`)).rows[0]?.n)).toBe(40);
    const config = await writeConfig('export-float.yaml', '{ column: ts, epoch: seconds }', table);
    const truth = await sqlIds(`select x.id::text from ${table} x order by to_timestamp(ts), x.id`);
    for (const accept of [3, 5]) expect(await exportInCuts(config, accept, 20)).toEqual(truth);
  });

  it('a numeric epoch in milliseconds with fractions of a microsecond: every entry once, in printed order', async () => {
    const table = schema.table('export_numeric');
    await schema.query(`create table ${table} (id bigint primary key, ts numeric not null, ${COLUMNS})`);
    await schema.query(`insert into ${table} (id, ts, operator, operation) select 100 - g, 1772323200123.4567 + g * 0.0003, 'op', 'update' from generate_series(1, 30) g`);
    const config = await writeConfig('export-numeric.yaml', '{ column: ts, epoch: milliseconds }', table);
    const truth = await sqlIds(`select x.id::text from ${table} x order by to_timestamp(ts / 1000.0), x.id`);
    expect(await exportInCuts(config, 4, 20)).toEqual(truth);
  });

  it('a local-time column (Europe/Berlin) holding the hour skipped in spring: every entry once, in time order', { timeout: 120_000 }, async () => {
    const table = schema.table('export_local');
    await schema.query(`create table ${table} (id bigint primary key, at timestamp not null, ${COLUMNS})`);
    // 02:05..02:55 do not exist in Berlin that night and read as 03:05..03:55, which are here too (smaller ids).
    await schema.query(`insert into ${table} (id, at, operator, operation) select 100 - g, timestamp '2026-03-29 01:55:00' + g * interval '10 minutes', 'op', 'update' from generate_series(1, 14) g`);
    const config = await writeConfig('export-local.yaml', '{ column: at, time_zone: Europe/Berlin }', table);
    const truth = await sqlIds(`select x.id::text from ${table} x order by (at at time zone 'Europe/Berlin'), x.id`);
    for (const accept of [1, 3]) expect(await exportInCuts(config, accept, 20)).toEqual(truth);
  });

  it('a run whose end (now minus --settle) falls in the skipped hour: the next run ships what it left, nothing skipped', async () => {
    const table = schema.table('export_local_bound');
    await schema.query(`create table ${table} (id bigint primary key, at timestamp not null, ${COLUMNS})`);
    // As instants: 01:20Z, 01:40Z (02:40 local does not exist: it reads as 03:40), 01:35Z; the first run ends near 01:30Z.
    await schema.query(`insert into ${table} (id, at, operator, operation) values
      (1, '2026-03-29 03:20', 'op', 'u'), (2, '2026-03-29 02:40', 'op', 'u'), (3, '2026-03-29 03:35', 'op', 'u')`);
    const config = await writeConfig('export-local-bound.yaml', '{ column: at, time_zone: Europe/Berlin }', table);
    const checkpoint = newCheckpoint();
    const settle = `${Math.round((Date.now() - Date.parse('2026-03-29T01:30:00Z')) / 1000)}s`;
    const first = await exportInCuts(config, 100, 1, checkpoint, settle);
    expect(first).toEqual(['1']);
    expect([...first, ...(await exportInCuts(config, 100, 1, checkpoint))]).toEqual(['1', '3', '2']);
  });
});

describe('history: time order across its 1,000-entry pages, and --at', () => {
  const history = (config: string, ...args: string[]) => spawnCli(['--db', databaseUrl(), '--config', config, 'history', 'route:r1', ...args]);
  const at = async (config: string, time: string) => {
    const result = await history(config, '--at', time);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as { entry: { id: string } | null; state: Record<string, unknown> | null };
  };

  it('an epoch float8 column finer than microseconds', { timeout: 120_000 }, async () => {
    const table = schema.table('history_float');
    await schema.query(`create table ${table} (id bigint primary key, ts float8 not null, ${COLUMNS})`);
    await schema.query(`insert into ${table} (id, ts, operator, operation, resource_type, resource_id, after)
      select 5000 - g, 1772323200.1234567 + g * 0.0000003, 'op', 'update', 'route', 'r1', jsonb_build_object('n', g) from generate_series(1, 2500) g`);
    const config = await writeConfig('history-float.yaml', '{ column: ts, epoch: seconds }', table);
    for (const order of ['asc', 'desc'] as const) {
      const result = await history(config, '--order', order, '--output', 'ndjson');
      expect(result.code, result.stderr).toBe(0);
      expect(ndjsonIds(result.stdout)).toEqual(await sqlIds(`select x.id::text from ${table} x order by to_timestamp(ts) ${order}, x.id ${order}`));
    }
    // Entries printed at exactly --at's time are at or before it, whatever their raw fraction of a microsecond: a
    // microsecond with two entries below it (the raw bound took the later one, the smaller id) and one above.
    const edge = (await schema.query<{ at: string }>(`select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at from (
        select to_timestamp(ts) as t, count(*) filter (where ts <= extract(epoch from to_timestamp(ts))::float8) as below,
               count(*) filter (where ts > extract(epoch from to_timestamp(ts))::float8) as above
        from ${table} group by 1) g where below >= 2 and above >= 1 order by t limit 1`)).rows[0]?.at as string;
    const expected = await sqlIds(`select x.id::text from ${table} x where to_timestamp(ts) <= '${edge}' order by to_timestamp(ts) desc, x.id desc limit 1`);
    expect((await at(config, edge)).entry?.id).toBe(expected[0]);
  });

  it('a local-time column (Europe/Berlin) holding the hour skipped in spring', { timeout: 120_000 }, async () => {
    const table = schema.table('history_local');
    await schema.query(`create table ${table} (id bigint primary key, at timestamp not null, ${COLUMNS})`);
    // 02:00..03:59:54 local, every 6 s: the skipped hour's entries tie with the next hour's on the instant.
    await schema.query(`insert into ${table} (id, at, operator, operation, resource_type, resource_id, after)
      select 5000 - g, timestamp '2026-03-29 02:00:00' + g * interval '6 seconds', 'op', 'update', 'route', 'r1', jsonb_build_object('n', g) from generate_series(0, 1199) g`);
    const config = await writeConfig('history-local.yaml', '{ column: at, time_zone: Europe/Berlin }', table);
    for (const order of ['asc', 'desc'] as const) {
      const result = await history(config, '--order', order, '--output', 'ndjson');
      expect(result.code, result.stderr).toBe(0);
      expect(ndjsonIds(result.stdout)).toEqual(await sqlIds(`select x.id::text from ${table} x order by (at at time zone 'Europe/Berlin') ${order}, x.id ${order}`));
    }
    // At 01:35Z the last entry is 02:35 local (skipped hour, reads as 01:35Z), not 03:35 by the wall clock.
    for (const time of ['2026-03-29T01:35:00Z', '2026-03-29T01:35:03Z', '2026-03-29T00:59:59Z']) {
      const expected = await sqlIds(`select x.id::text from ${table} x where (at at time zone 'Europe/Berlin') <= '${time}' order by (at at time zone 'Europe/Berlin') desc, x.id desc limit 1`);
      expect((await at(config, time)).entry?.id ?? null).toBe(expected[0] ?? null);
    }
  });
});

describe('prune --only-exported deletes only what export shipped', () => {
  // One entry was deleted and never shipped while prune.ts's atOrBefore compared the raw column.
  it('an epoch float8 column finer than microseconds: an export cut in a microsecond, a prune, the next export: every entry shipped', async () => {
    const table = schema.table('prune_float');
    await schema.query(`create table ${table} (id bigint primary key, ts float8 not null, ${COLUMNS})`);
    await schema.query(`insert into ${table} (id, ts, operator, operation) select 100 - g, 1772323200.1234567 + g * 0.0000003, 'op', 'update' from generate_series(1, 12) g`);
    const all = await sqlIds(`select x.id::text from ${table} x order by to_timestamp(ts), x.id`);
    const config = await writeConfig('prune-float.yaml', '{ column: ts, epoch: seconds }', table);
    const checkpoint = newCheckpoint();
    // The first run ships the first of the entries printed at the second microsecond (the largest id of three).
    const { shipped } = await exportRuns(config, 3, 1, checkpoint);
    const pruned = await spawnCli(['--db', databaseUrl(), '--config', config, 'prune', '--retention-days', '30', '--only-exported', checkpoint, '--yes', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    shipped.push(...(await exportInCuts(config, 100, 1, checkpoint)));
    expect([...shipped].sort()).toEqual([...all].sort());
  });
});

describe('follow continues after what it printed exactly', () => {
  // Entry 3 was never printed while follow.ts's fetchWindow passed its bound as a raw `until` filter.
  it('a numeric epoch finer than microseconds: a poll bound (an open transaction) between two entries of one printed microsecond', async () => {
    const database = await createTestDatabase('h39_follow');
    const admin = new pg.Client({ connectionString: database.url });
    const holder = new pg.Client({ connectionString: database.url });
    await Promise.all([admin.connect(), holder.connect()]);
    const follow = { running: undefined as ReturnType<typeof startCli> | undefined };
    try {
      await admin.query(`create table entries (id bigint primary key, ts numeric not null, ${COLUMNS})`);
      // The poll's bound is this transaction's start B (--settle 0): 9 at B - 0.3 µs and 3 at B + 0.2 µs both print B.
      await holder.query('begin');
      const start = (await holder.query<{ b: string }>(`select extract(epoch from xact_start)::text as b from pg_stat_activity where pid = pg_backend_pid()`)).rows[0]?.b as string;
      await admin.query(`insert into entries (id, ts, operator, operation) values
        (1, $1::numeric - 1, 'op', 'u'), (9, $1::numeric - 0.0000003, 'op', 'u'), (3, $1::numeric + 0.0000002, 'op', 'u')`, [start]);
      const config = await writeConfig('follow-numeric.yaml', '{ column: ts, epoch: seconds }', 'public.entries');
      const since = (await admin.query<{ s: string }>(`select to_char(to_timestamp($1::numeric - 60) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as s`, [start])).rows[0]?.s as string;
      const running = startCli(['--db', database.url, '--config', config, 'follow', '--since', since, '--output', 'ndjson', '--interval', '200ms', '--settle', '0'], { timeoutMs: 60_000 });
      follow.running = running;
      await waitFor(() => ndjsonIds(running.stdout()).includes('1'), 30_000, 'follow to print the entry before B');
      await holder.query('commit');
      await admin.query(`insert into entries (id, ts, operator, operation) values (100, $1::numeric + 1, 'op', 'u')`, [start]);
      await waitFor(() => ndjsonIds(running.stdout()).includes('100'), 30_000, 'follow to print the entry after B');
      running.child.kill('SIGINT');
      await running.result;
      expect(ndjsonIds(running.stdout())).toEqual(['1', '3', '9', '100']);
    } finally {
      follow.running?.child.kill('SIGKILL');
      await Promise.all([admin.end(), holder.end().catch(() => undefined)]);
      await database.drop();
    }
  });
});

