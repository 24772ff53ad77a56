import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli, startCli, startProcess, type Running } from '../support/cli.js';
import { seededRandom } from '../support/random.js';
import { createDefaultTable, createTestDatabase, createTestSchema, isEmbedded, type TestSchema } from '../support/database.js';
import { interruptAtOnce, ndjsonIds, sleep, waitFor } from '../support/wait.js';

/**
 * Attacks on `follow` through the built binary and the shared server, in a database of this file's own (its writers
 * hold transactions open, which holds back every follow and export in the same database).
 */
let schema: TestSchema;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const clients: pg.Client[] = [];

beforeAll(async () => {
  database = await createTestDatabase('attack_follow');
  schema = await createTestSchema('attack_follow', database.url);
  await createDefaultTable(schema);
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  await schema?.drop();
  await database?.drop();
});

const db = () => ['--db', database.url, '--table', schema.table()];

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: database.url, application_name: 'control-plane' });
  await client.connect();
  clients.push(client);
  return client;
}

const SECRET_AFTER = '{"plugins":{"key-auth":{"key":"s3cret-key"}},"secret":"s3cret-top"}';

/** Inserts `count` rows in the client's current transaction; `createdAt` is an SQL expression (default: the column's now()). */
async function insertRows(client: pg.Client, operator: string, count: number, createdAt?: string): Promise<string[]> {
  const column = createdAt === undefined ? '' : ', created_at';
  const value = createdAt === undefined ? '' : `, ${createdAt}`;
  const result = await client.query<{ id: string }>(
    `insert into ${schema.table()} (operator, operation, resource_type, resource_id, after${column})
     select $1, 'UPDATE', 'route', 'r' || g, $2::jsonb${value} from generate_series(1, $3::int) g returning id::text`,
    [operator, SECRET_AFTER, count],
  );
  return result.rows.map((row) => row.id);
}


/** Where a stopped follow said to continue: `['--cursor', X]` or `['--since', ISO]`. */
function continuation(stderr: string): string[] {
  const match = /Stopped\. Continue with: (--cursor|--since) (\S+)/.exec(stderr);
  if (!match) throw new Error(`no continuation in: ${stderr}`);
  return [match[1] as string, match[2] as string];
}

describe.skipIf(isEmbedded())('follow under attack (built binary, real server)', () => {
  it('3 concurrent writers (late, out-of-order, rolled back, identical and slightly back-dated timestamps) while follow is interrupted at random and resumed from its cursor: every committed id once, in order', async () => {
    const seed = Number(process.env.ATTACK_FOLLOW_SEED ?? Date.now() % 100_000);
    const rand = seededRandom(seed);
    const settle = '1s';
    const follow = (start: string[]) => startCli([...db(), 'follow', '--output', 'ndjson', '--interval', '100ms', '--settle', settle, ...start], { timeoutMs: 120_000 });
    const committed: string[] = [];
    let writing = true;
    let abandoned = false;

    // Each writer: transactions of 1 to 5 rows, held open 0 to 300 ms (past the interval), 1 in 10 rolled back; some
    // stamped explicitly up to --settle before their start (an application clock behind the server's), some with
    // the same instant across writers (the start of the half second).
    const writer = async (name: string, entries: number, slowAt: number) => {
      const client = await connect();
      let written = 0;
      for (let tx = 0; written < entries && tx < 400 && !abandoned; tx++) {
        const rows = 1 + Math.floor(rand() * 5);
        const stamp = tx % 7 === 3 ? `now() - interval '600 milliseconds'` : tx % 11 === 5 ? `to_timestamp(floor(extract(epoch from now()) * 2) / 2)` : undefined;
        await client.query('begin');
        const ids = await insertRows(client, `${name}-${tx}`, rows, stamp);
        // One transaction held open for 2.5 s, committing after many that started later.
        await sleep(tx === slowAt ? 2500 : Math.floor(rand() * 300));
        if (rand() < 0.1) {
          await client.query('rollback');
        } else {
          await client.query('commit');
          committed.push(...ids);
          written += ids.length;
        }
      }
    };

    const outputs: string[] = [];
    const errors: string[] = [];
    let running = follow([]);
    await waitFor(() => running.stderr().includes('Following entries'), 30_000, 'follow to start');
    // Starting now means from the instant it printed: an entry back-dated before it is not this follow's.
    await sleep(1200);
    const writers = Promise.all([writer('w0', 300, 5), writer('w1', 300, 20), writer('w2', 300, 40)]).finally(() => {
      writing = false;
    });

    try {
      // Ctrl-C at random moments; each next follow starts from what the last one printed.
      for (let round = 0; round < 8 && writing; round++) {
        // The first stop comes after some output, so that it is a cursor that continues (a build without the
        // --since continuation printed nothing then).
        if (round === 0) await waitFor(() => running.stdout() !== '', 20_000, 'the first entries');
        await sleep(500 + Math.floor(rand() * 2000));
        const result = await interruptAtOnce(running);
        outputs.push(result.stdout);
        errors.push(result.stderr);
        running = follow(continuation(result.stderr));
        await waitFor(() => running.stderr().includes('Following entries') || running.exited(), 30_000, 'the next follow to start');
      }
      await writers;
    } finally {
      abandoned = true;
      await writers.catch(() => undefined);
    }
    const printed = () => [...outputs.flatMap(ndjsonIds), ...ndjsonIds(running.stdout())];
    await waitFor(() => new Set(printed()).size >= committed.length, 40_000, `every committed entry to be printed (seed ${seed})`).catch(() => undefined);
    outputs.push((await interruptAtOnce(running)).stdout);

    const ids = outputs.flatMap(ndjsonIds);
    const missing = committed.filter((id) => !ids.includes(id));
    const detail = missing.length === 0 ? '' : JSON.stringify((await schema.query(`select id, created_at, operator from ${schema.table()} where id = any($1::bigint[]) order by id`, [missing.slice(0, 10)])).rows);
    const context = `seed ${seed} ${missing.length} missing ${detail} ${errors.join('|')}`;
    expect(new Set(ids).size, `${context}: no entry printed twice`).toBe(ids.length);
    expect([...ids].sort(), `${context}: followed ids == committed ids`).toEqual([...committed].sort());
    // id, not id::text, in the order by: as text, '10' sorts before '8' among entries of the same instant.
    const truth = await schema.query<{ id: string }>(`select id from ${schema.table()} order by created_at, id`);
    expect(ids, `${context}: in (timestamp, id) order`).toEqual(truth.rows.map((row) => row.id));
    expect(outputs.join(''), 'secrets masked').not.toContain('s3cret');
  }, 150_000);

  it('Ctrl-C exits 0 at once while a poll waits behind a lock on the table, and prints a --cursor', async () => {
    const writer = await connect();
    await insertRows(writer, 'before-lock', 2);
    const locker = await connect();
    const running = startCli([...db(), 'follow', '--since', '1h', '--interval', '100ms', '--output', 'ndjson'], { timeoutMs: 60_000 });
    await waitFor(() => ndjsonIds(running.stdout()).length > 0, 30_000, 'the first entries');
    await locker.query('begin');
    await locker.query(`lock table ${schema.table()} in access exclusive mode`);
    try {
      await sleep(600);
      // The binary of d4b777e's parent waited for the lock (and then reset its session) before it exited.
      const result = await interruptAtOnce(running);
      expect(continuation(result.stderr)[0]).toBe('--cursor');
    } finally {
      await locker.query('rollback');
    }
  }, 60_000);

  it('--for longer than setTimeout can wait (24.8 days) keeps following; --interval 25d does not poll every millisecond', async () => {
    const long = startCli([...db(), 'follow', '--for', '25d', '--interval', '25d'], { timeoutMs: 60_000 });
    await waitFor(() => long.stderr().includes('Following entries') || long.exited(), 30_000, 'follow to start');
    await sleep(1500);
    expect(long.exited(), `--for 25d stopped at once: ${long.stderr()}`).toBe(false);
    const result = await interruptAtOnce(long);
    expect(result.stderr).not.toContain('TimeoutOverflowWarning');
    // A follow that printed nothing says where to continue all the same.
    expect(continuation(result.stderr)[0]).toBe('--since');
  }, 60_000);

  it('--for, --interval and --settle edge values: exit 2 and one line for what is refused; --for 10ms stops by itself', async () => {
    for (const args of [['--interval', '0'], ['--interval', '0s'], ['--interval', '5ms'], ['--interval', '1'], ['--for', '0s'], ['--for', '1'], ['--for=-1s'], ['--interval=-1s'], ['--settle=-1s']]) {
      const result = await spawnCli([...db(), 'follow', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    const started = Date.now();
    const result = await spawnCli([...db(), 'follow', '--for', '10ms', '--interval', '10ms', '--settle', '0']);
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 90_000);

  it('--since in the future prints only what is stamped from then on', async () => {
    const writer = await connect();
    const at = (await writer.query<{ t: string }>(`select to_char((now() + interval '3 seconds') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`)).rows[0]?.t as string;
    const running = startCli([...db(), 'follow', '--since', at, '--interval', '100ms', '--settle', '0', '--output', 'ndjson'], { timeoutMs: 60_000 });
    await waitFor(() => running.stderr().includes('Following entries'), 30_000, 'follow to start');
    await insertRows(writer, 'too-early', 1);
    await sleep(3500);
    const [late] = await insertRows(writer, 'in-time', 1);
    await waitFor(() => ndjsonIds(running.stdout()).length > 0, 20_000, 'the entry after --since');
    const result = await interruptAtOnce(running);
    expect(ndjsonIds(result.stdout)).toEqual([late]);
  }, 60_000);

  it('table and csv: one header over several polls; secrets masked in every format', async () => {
    const writer = await connect();
    const formats = ['table', 'csv', 'ndjson'] as const;
    const runs = formats.map((format) => startCli([...db(), 'follow', '--output', format, '--interval', '100ms', '--settle', '0', '--resource', 'route', '--operator', 'header-test'], { timeoutMs: 60_000 }));
    await waitFor(() => runs.every((running) => running.stderr().includes('Following entries')), 30_000, 'the follows to start');
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      ids.push(...(await insertRows(writer, 'header-test', 2)));
      await sleep(400);
    }
    await waitFor(() => ids.every((id) => ndjsonIds((runs[2] as Running).stdout()).includes(id)), 20_000, 'ndjson to catch up');
    await sleep(500);
    const [table, csv, ndjson] = await Promise.all(runs.map((running) => interruptAtOnce(running)));
    expect(table?.stdout.match(/^ID\s+TIME/gm)).toHaveLength(1);
    expect(table?.stdout.match(/header-test/g)).toHaveLength(ids.length);
    expect(csv?.stdout.match(/^id,timestamp,/gm)).toHaveLength(1);
    expect(csv?.stdout.trim().split('\n')).toHaveLength(ids.length + 1);
    expect(ndjsonIds(ndjson?.stdout ?? '')).toEqual(ids);
    for (const result of [table, csv, ndjson]) expect(result?.stdout).not.toContain('s3cret');
    for (const result of [csv, ndjson]) expect(result?.stdout).toContain('******');
  }, 60_000);

  it('follow | head -1 exits promptly with no EPIPE trace while entries come', async () => {
    const writer = await connect();
    for (const format of ['ndjson', 'table']) {
      const pipeline = startProcess('sh', ['-c', `"${process.execPath}" "${BIN}" --db "${database.url}" --table ${schema.table()} follow -o ${format} --interval 100ms --settle 0 | head -1`], { timeoutMs: 30_000 });
      let written = 0;
      while (!pipeline.exited() && written < 100) {
        await insertRows(writer, `pipe-${format}`, 1);
        written += 1;
        await sleep(100);
      }
      const result = await pipeline.result;
      expect(written, `${format}: the pipeline ended`).toBeLessThan(100);
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    }
  }, 60_000);

  it.skipIf(!existsSync('/dev/full'))('stdout on a full disk (/dev/full): one line, exit 1, no stack trace', async () => {
    await insertRows(await connect(), 'full-disk', 1);
    for (const command of ['follow --since 1d --interval 100ms', 'list --all']) {
      const run = startProcess('sh', ['-c', `"${process.execPath}" "${BIN}" --db "${database.url}" --table ${schema.table()} ${command} -o ndjson > /dev/full`], { timeoutMs: 30_000 });
      const result = await run.result;
      expect(result.code, command).toBe(1);
      expect(result.stderr, command).toMatch(/^error: cannot write to stdout: ENOSPC/m);
      expect(result.stderr, command).not.toMatch(/\n\s+at |node:internal/);
    }
  }, 60_000);

  it('filters and a cursor from list --with-cursor continue exactly; another order, table or filter is exit 2 naming it', async () => {
    const writer = await connect();
    const ids = await insertRows(writer, 'cursor-op', 3);
    await insertRows(writer, 'other-op', 2);
    // A page of list --since ... --order asc continues in follow (which takes no --since with a cursor).
    const listed = await spawnCli([...db(), 'list', '--operator', 'cursor-op', '--order', 'asc', '--limit', '1', '--since', '1d', '--with-cursor']);
    expect(listed.code, listed.stderr).toBe(0);
    const good = (JSON.parse(listed.stdout) as { next_cursor: string }).next_cursor;
    const running = startCli([...db(), 'follow', '--operator', 'cursor-op', '--cursor', good, '--interval', '100ms', '--settle', '0', '--output', 'ndjson'], { timeoutMs: 60_000 });
    await waitFor(() => ndjsonIds(running.stdout()).length >= 2, 20_000, 'the entries after the cursor');
    await sleep(400);
    expect(ndjsonIds((await interruptAtOnce(running)).stdout)).toEqual(ids.slice(1));

    const desc = await spawnCli([...db(), 'list', '--operator', 'cursor-op', '--limit', '1', '--with-cursor']);
    const descCursor = (JSON.parse(desc.stdout) as { next_cursor: string }).next_cursor;
    const bounded = await spawnCli([...db(), 'list', '--operator', 'cursor-op', '--order', 'asc', '--limit', '1', '--until', '2099-01-01T00:00:00Z', '--with-cursor']);
    const boundedCursor = (JSON.parse(bounded.stdout) as { next_cursor: string }).next_cursor;
    const refusals: [string[], RegExp][] = [
      [['--operator', 'cursor-op', '--cursor', descCursor], /--order/],
      [['--operator', 'cursor-op', '--cursor', boundedCursor], /--until/],
      [['--operator', 'other-op', '--cursor', good], /--operator/],
      [['--cursor', good], /--operator/],
    ];
    for (const [args, names] of refusals) {
      const result = await spawnCli([...db(), 'follow', ...args, '--for', '10ms']);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(names);
    }
    const otherTable = `${schema.name}.other_logs`;
    await schema.query(`create table ${otherTable} (like ${schema.table()} including all)`);
    const elsewhere = await spawnCli(['--db', database.url, '--table', otherTable, 'follow', '--operator', 'cursor-op', '--cursor', good, '--for', '10ms']);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toMatch(/the table \(made for/);
  }, 90_000);
});
