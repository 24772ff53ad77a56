import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import type { FakeServer } from '../support/fake-server.js';

const TOKEN = 'hec-Tok3n-9f8e7d';
const ROWS = 3000;
let schema: TestSchema;
let allIds: string[];
let dir: string;
const servers: FakeServer[] = [];

beforeAll(async () => {
  schema = await createTestSchema('export');
  await createDefaultTable(schema);
  await schema.query(`insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, source_ip, source, before, after)
    select now() - make_interval(mins => i), 'op' || (i % 7), 'UPDATE', 'consumer', 'c-' || i, '10.0.0.1', 'api',
      jsonb_build_object('username', 'u' || i, 'plugins', jsonb_build_object('key-auth', jsonb_build_object('key', 'KEY-SECRET-' || i))),
      jsonb_build_object('cert', 'c', 'key', 'PRIVATE-KEY-' || i, 'note', 'quote " backslash \\ unicode ü')
    from generate_series(1, ${ROWS}) i`);
  allIds = sorted((await schema.query<{ id: string }>(`select id::text from ${schema.table()}`)).rows.map((r) => r.id));
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-export-'));
});
afterAll(() => schema.drop());
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const base = () => ['--db', databaseUrl(), '--table', schema.table(), 'export', '--settle', '0'];
const hecEnv = { API7_AUDIT_HEC_TOKEN: TOKEN };
const sorted = (ids: Iterable<string>) => [...ids].sort((a, b) => Number(a) - Number(b));

describe('export to Splunk HEC', () => {
  it('delivers every entry once, with secrets masked, and a rerun with the checkpoint sends nothing', async () => {
    const { server, hec } = await FakeHec.start({ token: TOKEN });
    servers.push(server);
    const checkpoint = join(dir, 'hec.json');
    const first = await runCli([...base(), '--hec-url', server.url, '--checkpoint', checkpoint, '--json'], { env: hecEnv });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ exported: ROWS, duplicates: 0, retries: 0 });
    expect(sorted(new Set(hec.ids.ids))).toEqual(allIds);
    expect(hec.ids.duplicates).toBe(0);
    const sent = JSON.stringify(hec.events);
    expect(sent).not.toMatch(/KEY-SECRET-|PRIVATE-KEY-/);
    expect(sent).toContain('******');
    expect(hec.events[0]).toMatchObject({ sourcetype: 'api7:audit', fields: { audit_id: expect.any(String) } });

    const again = await runCli([...base(), '--hec-url', server.url, '--checkpoint', checkpoint, '--json'], { env: hecEnv });
    expect(JSON.parse(again.stdout)).toMatchObject({ exported: 0 });
    expect(hec.ids.ids).toHaveLength(ROWS);
  });

  it('loses nothing through 503s, 429s with Retry-After, dropped connections and replies past the timeout', async () => {
    const { server, hec } = await FakeHec.start({ token: TOKEN, seed: 3, failRate: 0.2, failStatus: 429, retryAfterSeconds: 0, dropRate: 0.1, slowRate: 0.05, slowMs: 1500 });
    servers.push(server);
    const result = await runCli([...base(), '--hec-url', server.url, '--batch-size', '200', '--timeout', '500ms', '--gzip', '--json'], { env: hecEnv });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { exported: number; retries: number };
    expect(summary.retries).toBeGreaterThan(0);
    expect(server.faults.failed + server.faults.dropped + server.faults.slow).toBeGreaterThan(0);
    expect(sorted(new Set(hec.ids.ids))).toEqual(allIds);
    // Only a slow reply (stored, then timed out) can cause a resend of stored entries.
    expect(hec.ids.duplicates).toBeLessThanOrEqual(server.faults.slow * 200);
  });

  it('a bad token stops the run in a handful of requests, exit 1, without printing the token', async () => {
    const { server } = await FakeHec.start({ token: 'the-right-one' });
    servers.push(server);
    const result = await runCli([...base(), '--hec-url', server.url], { env: hecEnv });
    expect(result.code).toBe(1);
    expect(server.requestCount).toBeLessThanOrEqual(3);
    expect(result.stderr).toMatch(/Invalid token/);
    expect(result.stderr).not.toContain(TOKEN);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a token on the command line works but warns; a missing token is a usage error', async () => {
    const { server, hec } = await FakeHec.start({ token: TOKEN });
    servers.push(server);
    const result = await runCli([...base(), '--hec-url', server.url, '--hec-token', TOKEN, '--operator', 'op1']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: --hec-token on the command line is visible/);
    expect(result.stderr).not.toContain(TOKEN);
    expect(hec.ids.unique).toBeGreaterThan(0);
    const missing = await runCli([...base(), '--hec-url', server.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('API7_AUDIT_HEC_TOKEN');
  });

  it('a SIGKILL mid-export followed by a rerun with the checkpoint delivers every entry', async () => {
    const { server, hec } = await FakeHec.start({ token: TOKEN, slowRate: 1, slowMs: 150 });
    servers.push(server);
    const checkpoint = join(dir, 'killed.json');
    const args = [...base(), '--hec-url', server.url, '--checkpoint', checkpoint, '--batch-size', '100', '--concurrency', '2'];
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...hecEnv }, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    for (let waited = 0; hec.ids.unique < 800 && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    const before = hec.ids.unique;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(ROWS);
    const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { id: string };
    expect(hec.ids.has(saved.id)).toBe(true);

    const rerun = await runCli(args, { env: hecEnv });
    expect(rerun.code).toBe(0);
    expect(sorted(new Set(hec.ids.ids))).toEqual(allIds);
    // Duplicates are at most the batches that were in flight when the process died (2), plus the confirmed ones
    // whose checkpoint write (fsync, rename) had not finished yet.
    expect(hec.ids.duplicates).toBeLessThanOrEqual(4 * 100);
  });

  it('SIGTERM and SIGINT mid-export: in-flight batches finish, the checkpoint is saved, exit 130, and a rerun sends the rest', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { server, hec } = await FakeHec.start({ token: TOKEN, slowRate: 1, slowMs: 100 });
      servers.push(server);
      const checkpoint = join(dir, `${signal}.json`);
      const args = [...base(), '--hec-url', server.url, '--checkpoint', checkpoint, '--batch-size', '100', '--concurrency', '2'];
      const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...hecEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      for (let waited = 0; hec.ids.unique < 500 && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      const signalled = Date.now();
      child.kill(signal);
      expect(await exited).toBe(130);
      // The COPY under way is cut off with its connection, not read to the end: well within the 5 s grace.
      expect(Date.now() - signalled).toBeLessThan(5000);
      const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { id: string };
      expect(stderr).toMatch(new RegExp(`^error: export interrupted after \\d+ entries; checkpoint at \\S+ id ${saved.id}\\n$`));
      expect(hec.ids.unique).toBeLessThan(ROWS);
      expect(hec.ids.duplicates).toBe(0);

      const rerun = await runCli(args, { env: hecEnv });
      expect(rerun.code).toBe(0);
      expect(sorted(new Set(hec.ids.ids))).toEqual(allIds);
      // An interrupted run confirms what it sent before it saves the checkpoint: nothing is sent twice.
      expect(hec.ids.duplicates).toBe(0);
    }
  });
});

describe('export to Elasticsearch and Datadog', () => {
  it('Elasticsearch: every entry arrives; a resend without checkpoint is counted as duplicates, not stored twice', async () => {
    const { server, es } = await FakeElastic.start({ apiKey: 'es-key' });
    servers.push(server);
    const env = { API7_AUDIT_ELASTIC_API_KEY: 'es-key' };
    const first = await runCli([...base(), '--elastic-url', server.url, '--json'], { env });
    expect(first.code).toBe(0);
    expect(sorted(new Set(es.ids.ids))).toEqual(allIds);
    const second = await runCli([...base(), '--elastic-url', server.url, '--json', '--operator', 'op2'], { env });
    const summary = JSON.parse(second.stdout) as { exported: number; duplicates: number };
    expect(summary.duplicates).toBe(summary.exported);
    expect(summary.exported).toBeGreaterThan(0);
  });

  it('Datadog: every entry arrives in requests of at most 1000 entries', async () => {
    const { server, dd } = await FakeDatadog.start({ apiKey: 'dd-Key-123' });
    servers.push(server);
    const result = await runCli([...base(), '--datadog-url', server.url, '--json'], { env: { DD_API_KEY: 'dd-Key-123' } });
    expect(result.code).toBe(0);
    expect(sorted(new Set(dd.ids.ids))).toEqual(allIds);
    expect(Math.max(...dd.requests.map((r) => r.entries))).toBeLessThanOrEqual(1000);
  });
});

describe('export to a device or a pipe', () => {
  it('writes to /dev/null and to a FIFO, which cannot be fsynced, and ships every entry', async () => {
    const nulled = await runCli([...base(), '--out', '/dev/null', '--json']);
    expect(nulled.stderr).toBe('');
    expect(JSON.parse(nulled.stdout)).toMatchObject({ exported: ROWS });

    const fifo = join(dir, 'entries.fifo');
    await new Promise<void>((resolve, reject) => spawn('mkfifo', [fifo]).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo: ${code}`)))));
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let lines = 0;
    reader.stdout.on('data', (chunk: Buffer) => (lines += chunk.toString('latin1').split('\n').length - 1));
    const readerDone = new Promise((resolve) => reader.on('close', resolve));
    const piped = await runCli([...base(), '--out', fifo, '--json']);
    await readerDone;
    expect(JSON.parse(piped.stdout)).toMatchObject({ exported: ROWS });
    expect(lines).toBe(ROWS);
  });
});

describe('selection', () => {
  it('leaves entries younger than --settle for the next run', async () => {
    // 10 minutes old, not now: the bound is also the oldest open transaction of the shared database, which another
    // file's statement running meanwhile may hold a little before now, never 10 minutes.
    const young = await insertRows(schema, [{ age: '10 minutes', operator: 'settle-test' }]);
    const out = join(dir, 'settle.ndjson');
    const held = await runCli([...base().slice(0, -2), '--settle', '1h', '--operator', 'settle-test', '--out', out, '--json']);
    expect(JSON.parse(held.stdout)).toMatchObject({ exported: 0 });
    const sent = await runCli([...base().slice(0, -2), '--settle', '1m', '--operator', 'settle-test', '--out', out, '--json']);
    expect(JSON.parse(sent.stdout)).toMatchObject({ exported: 1 });
    expect((await readFile(out, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(young);
    await schema.query(`delete from ${schema.table()} where operator = 'settle-test'`);
  });

  it('filters on values that need quoting once written into the COPY statement, and continues from a checkpoint', async () => {
    // COPY takes no parameters: these values travel as SQL literals, where a quote or a backslash must stay data.
    const tricky = ["o'brien", 'back\\slash', "x' or '1'='1", '$1'];
    const ids = await insertRows(schema, tricky.map((operator, i) => ({ age: `${i + 2} hours`, operator, resource_type: 'route', resource_id: `r'${i}` })));
    const out = join(dir, 'tricky.ndjson');
    const checkpoint = join(dir, 'tricky.json');
    const flags = tricky.flatMap((operator) => ['--operator', operator]);
    const first = await runCli([...base(), ...flags, '--out', out, '--checkpoint', checkpoint, '--json']);
    expect(JSON.parse(first.stdout)).toMatchObject({ exported: 4 });
    const [newer] = await insertRows(schema, [{ age: '1 hour', operator: tricky[2], resource_type: 'route', resource_id: "r'4" }]);
    // The checkpoint records the same tricky values, so the run continues after it: only the newer entry goes.
    const next = await runCli([...base(), ...flags, '--out', out, '--checkpoint', checkpoint, '--json']);
    expect(JSON.parse(next.stdout)).toMatchObject({ exported: 1 });
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; operator: string });
    expect(lines.map((line) => line.operator)).toEqual([tricky[3], tricky[2], tricky[1], tricky[0], tricky[2]]);
    expect(lines.map((line) => line.id)).toEqual([ids[3], ids[2], ids[1], ids[0], newer]);
    await schema.query(`delete from ${schema.table()} where resource_id like 'r''%'`);
  });

  it('--dry-run sends nothing and reports the count and the first and last entries', async () => {
    const { server, hec } = await FakeHec.start({ token: TOKEN });
    servers.push(server);
    const result = await runCli([...base(), '--hec-url', server.url, '--dry-run', '--json', '--operator', 'op3'], { env: hecEnv });
    const plan = JSON.parse(result.stdout) as { would_export: number; first: { id: string }; last: { id: string } };
    const expected = await schema.query<{ n: string; first: string; last: string }>(
      `select count(*) n, (array_agg(id::text order by created_at, id))[1] first, (array_agg(id::text order by created_at desc, id desc))[1] last from ${schema.table()} where operator = 'op3'`,
    );
    expect(plan.would_export).toBe(Number(expected.rows[0]?.n));
    expect(plan.first.id).toBe(expected.rows[0]?.first);
    expect(plan.last.id).toBe(expected.rows[0]?.last);
    expect(server.requestCount).toBe(0);
    expect(hec.ids.unique).toBe(0);
  });

  it.each([
    [['--out', 'x.ndjson', '--hec-url', 'http://127.0.0.1:1'], 'choose one destination'],
    [[], 'choose a destination'],
    [['--hec-url', 'ftp://x'], `invalid --hec-url 'ftp://x'`],
    [['--out', 'x', '--settle', '5x'], `invalid --settle '5x'`],
    [['--out', 'x', '--concurrency', '0'], `invalid --concurrency '0'`],
  ])('bad input %j is a usage error', async (args, message) => {
    const result = await runCli([...base(), ...args], { env: hecEnv, cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
