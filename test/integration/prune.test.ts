import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/io.js';
import { run } from '../../src/main.js';
import { pruneTable } from '../../src/commands/prune/run.js';
import { pruneLockName } from '../../src/db/advisory-lock.js';
import type { PruneOptions } from '../../src/commands/prune/options.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { withAuditTable } from '../../src/db/session.js';
import { runCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type SeedRow, type TestSchema } from '../support/database.js';

const schemas: TestSchema[] = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prune-it-'));
});
// Each test's schema (and its client) goes right after the test: the embedded server takes 16 connections at most.
afterEach(async () => {
  await Promise.all(schemas.splice(0).map((schema) => schema.drop()));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A schema of its own with the default table, per test, so tests never see each other's rows. */
async function newTable(): Promise<TestSchema> {
  const schema = await createTestSchema('prune');
  schemas.push(schema);
  await createDefaultTable(schema);
  return schema;
}

/** Rows on both sides of a 30-day cutoff, none within an hour of it (the CLI's now() is a moment later than ours). */
function aroundThirtyDays(): SeedRow[] {
  const rows: SeedRow[] = [];
  for (let i = 0; i < 40; i += 1) rows.push({ age: `${31 + (i % 50)} days ${i % 24} hours`, operator: 'old', operation: 'UPDATE', resource_type: 'route' });
  for (let i = 0; i < 25; i += 1) rows.push({ age: `${i % 29} days ${i % 24} hours`, operator: 'new', operation: 'UPDATE', resource_type: 'route' });
  rows.push({ age: '30 days 1 hour', operator: 'old' }, { age: '29 days 23 hours', operator: 'new' });
  return rows;
}

const ids = async (schema: TestSchema, where: string) =>
  (await schema.query<{ id: string }>(`select id::text from ${schema.table()} where ${where} order by id`)).rows.map((row) => row.id);
const count = async (schema: TestSchema, where = 'true') => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()} where ${where}`)).rows[0]?.n);

const prune = (schema: TestSchema, args: string[], options?: Parameters<typeof runCli>[1]) =>
  runCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', ...args], options);

function summaryOf(result: CliResult): Record<string, unknown> {
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** `run` with the parts of CliIo that runCli does not offer: a signal, a terminal on stdin and stderr. */
async function runWithIo(argv: string[], extra: Partial<CliIo>): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await run(argv, { stdout, stderr, env: {}, cwd: dir, stdoutIsTty: false, stderrIsTty: false, ...extra });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

describe('prune by retention', () => {
  it('deletes exactly the entries older than the cutoff, by the database clock, and prints the cutoff', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    const old = await ids(schema, `created_at < now() - interval '30 days'`);
    const kept = await ids(schema, `created_at >= now() - interval '30 days'`);
    const clock = `select extract(epoch from now() - interval '30 days') * 1000 as t`;
    const before = Number((await schema.query<{ t: string }>(clock)).rows[0]?.t);
    const result = await prune(schema, ['--retention-days', '30', '--batch-size', '7', '--json']);
    const after = Number((await schema.query<{ t: string }>(clock)).rows[0]?.t);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ retention_days: 30, retention_source: 'flag', matched: old.length, deleted: old.length, complete: true, archive: null });
    expect(summary.batches).toBe(Math.ceil(old.length / 7));
    const cutoff = Date.parse(String(summary.cutoff));
    expect(cutoff).toBeGreaterThanOrEqual(Math.floor(before));
    expect(cutoff).toBeLessThanOrEqual(Math.ceil(after));
    expect(await ids(schema, 'true')).toEqual(kept);
    expect(await count(schema, `operator = 'old'`)).toBe(0);
    expect(await count(schema, `operator = 'new'`)).toBe(26);
  });

  it('never touches an entry at the cutoff or after it, even inside a tie of timestamps split across batches', async () => {
    const schema = await newTable();
    const cutoff = '2026-03-01T12:00:00.500000Z';
    const rows: SeedRow[] = [];
    // Ties: groups of five entries sharing one timestamp, with batches of 7 so ties straddle batch edges.
    for (let i = 0; i < 60; i += 1) rows.push({ at: `2026-02-${String(1 + (i % 27)).padStart(2, '0')}T10:00:00.000001Z`, operator: 'old' });
    for (const at of ['2026-03-01T12:00:00.499999Z', '2026-03-01T12:00:00.499999Z', '2026-03-01T12:00:00.499999Z']) rows.push({ at, operator: 'just before' });
    for (let i = 0; i < 4; i += 1) rows.push({ at: cutoff, operator: 'at' });
    for (let i = 0; i < 3; i += 1) rows.push({ at: '2026-03-01T12:00:00.500001Z', operator: 'just after' });
    for (let i = 0; i < 20; i += 1) rows.push({ at: `2026-04-${String(1 + i).padStart(2, '0')}T00:00:00Z`, operator: 'new' });
    // Inserted in shuffled order, so ids do not follow time.
    await insertRows(schema, rows.reverse());
    const expected = await ids(schema, `created_at >= '${cutoff}'`);
    const options: PruneOptions = { retention: { days: 1, source: 'flag' }, cutoff, dryRun: false, batchSize: 7, detachOnly: false, yes: true, output: 'json', showSecrets: false };
    const config = await resolveConfig({ db: databaseUrl(), table: schema.table() }, {}, dir);
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, cwd: dir, stdoutIsTty: false, stderrIsTty: false };
    const summary = await withAuditTable(config, (table) => pruneTable(table, options, config.secrets, io));
    expect(summary).toMatchObject({ cutoff, matched: 63, deleted: 63, oldest: '2026-02-01T10:00:00.000001Z', newest: '2026-03-01T12:00:00.499999Z' });
    expect(await ids(schema, 'true')).toEqual(expected);
    expect(await count(schema, `operator in ('at', 'just after', 'new')`)).toBe(27);
  });

  it.skipIf(isEmbedded())('deletes through the index, never a sequential scan, even with statistics that say "most rows"', async () => {
    // Skipped on the embedded server: all its connections share one backend, whose statistics counters do not tie
    // to the prune alone (measured: the test passes there on its own, and counts 7 scans among this file's others).
    const schema = await newTable();
    // Analyzed while every row was old, then joined by new ones: the planner believes most of any range matches,
    // and a small table invites a sequential scan for each batch's DELETE unless the prune forbids it.
    await insertRows(schema, Array.from({ length: 3000 }, (_, i) => ({ age: `${40 + (i % 50)} days ${i % 1440} minutes`, operator: 'old' })));
    await schema.query(`analyze ${schema.table()}`);
    await insertRows(schema, Array.from({ length: 500 }, (_, i) => ({ age: `${i % 20} days`, operator: 'new' })));
    const scans = async () => {
      await schema.query('select pg_stat_clear_snapshot()');
      const { rows } = await schema.query<{ seq: string; deleted: string }>(
        `select seq_scan::text as seq, n_tup_del::text as deleted from pg_stat_user_tables where relid = '${schema.table()}'::regclass`,
      );
      return { seq: Number(rows[0]?.seq), deleted: Number(rows[0]?.deleted) };
    };
    const before = await scans();
    const result = await prune(schema, ['--retention-days', '30', '--batch-size', '200', '--yes', '--json']);
    expect(result.code).toBe(0);
    expect(summaryOf(result)).toMatchObject({ deleted: 3000, batches: 15 });
    // The prune's backend reports its counters when it ends: wait for its deletions to show (bounded: 5 s).
    let after = await scans();
    for (let waited = 0; after.deleted - before.deleted < 3000 && waited < 5000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await scans();
    }
    expect(after.deleted - before.deleted).toBe(3000);
    expect(after.seq - before.seq).toBe(0);
    expect(await count(schema, "operator = 'new'")).toBe(500);
  });

  it('--dry-run deletes nothing and reports the count, the oldest and newest, and the cutoff', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    const fingerprint = `select md5(string_agg(t::text, ',' order by id)) as h from ${schema.table()} t`;
    const before = (await schema.query<{ h: string }>(fingerprint)).rows[0]?.h;
    const expected = await schema.query<{ n: string; oldest: string; newest: string }>(
      `select count(*) as n, to_char(min(created_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as oldest,
              to_char(max(created_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as newest
       from ${schema.table()} where created_at < now() - interval '30 days'`,
    );
    const result = await prune(schema, ['--retention-days', '30', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    expect(summaryOf(result)).toMatchObject({
      dry_run: true,
      matched: Number(expected.rows[0]?.n),
      oldest: expected.rows[0]?.oldest,
      newest: expected.rows[0]?.newest,
      deleted: 0,
      batches: 0,
    });
    expect(summaryOf(result).cutoff).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const text = await prune(schema, ['--retention-days', '30', '--dry-run']);
    expect(text.stdout).toMatch(/^Cutoff: \S+Z \(30 days before now by the database clock; --retention-days\)\nDry run: nothing deleted\. 41 entries/);
    expect((await schema.query<{ h: string }>(fingerprint)).rows[0]?.h).toBe(before);
  });

  it('takes the retention from the control plane conf.yaml, then from the config file', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    await writeFile(join(dir, 'conf.yaml'), 'audit:\n  retention_days: 30\n');
    await writeFile(join(dir, 'api7-audit.yaml'), 'retention_days: 45\n');
    const fromCp = await prune(schema, ['--cp-config', 'conf.yaml', '--dry-run', '--json'], { cwd: dir });
    expect(summaryOf(fromCp)).toMatchObject({ retention_days: 30, retention_source: 'cp-config', matched: 41 });
    const fromConfig = await prune(schema, ['--config', 'api7-audit.yaml', '--dry-run', '--json'], { cwd: dir });
    expect(summaryOf(fromConfig)).toMatchObject({ retention_days: 45, retention_source: 'config' });
    await rm(join(dir, 'api7-audit.yaml'));
  });

  it.each([
    ['--retention-days 0', ['--retention-days', '0'], `invalid --retention-days '0'`],
    ['--retention-days -3', ['--retention-days', '-3'], `invalid --retention-days '-3'`],
    ['--retention-days abc', ['--retention-days', 'abc'], `invalid --retention-days 'abc'`],
    ['a missing conf.yaml', ['--cp-config', 'nope.yaml'], `cannot read control plane config '${'<dir>'}/nope.yaml': no such file`],
    ['a malformed conf.yaml', ['--cp-config', 'broken.yaml'], `control plane config '<dir>/broken.yaml' is not valid YAML`],
    ['a bad retention in conf.yaml', ['--cp-config', 'zero.yaml'], `'audit.retention_days' must be a whole number from 1 to 36500, got 0`],
  ])('bad input (%s) is one line, exit 2, and nothing is deleted', async (_name, args, message) => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    await writeFile(join(dir, 'broken.yaml'), 'audit:\n  retention_days: [1\n');
    await writeFile(join(dir, 'zero.yaml'), 'audit:\n  retention_days: 0\n');
    const result = await prune(schema, [...args, '--yes'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(message.replace('<dir>', dir));
    expect(await count(schema)).toBe(67);
  });
});

describe('prune --archive', () => {
  const secretRows = (): SeedRow[] => [
    ...aroundThirtyDays(),
    { age: '40 days', operator: 'old', resource_type: 'consumer', after: { plugins: { 'key-auth': { key: 'k-secret-1' } }, password: 'p-secret' } },
  ];

  for (const name of ['pruned.ndjson', 'pruned.ndjson.gz']) {
    it(`holds exactly the deleted entries, secrets masked (${name})`, async () => {
      const schema = await newTable();
      await insertRows(schema, secretRows());
      const old = await ids(schema, `created_at < now() - interval '30 days'`);
      const path = join(dir, `${schema.name}-${name}`);
      const result = await prune(schema, ['--retention-days', '30', '--batch-size', '8', '--archive', path, '--json']);
      expect(result.code).toBe(0);
      expect(summaryOf(result)).toMatchObject({ deleted: old.length, archive: path, archived: old.length });
      const raw = await readFile(path);
      const text = name.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      const entries = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { id: string; operator: string; after: unknown });
      expect(entries.map((entry) => entry.id).sort()).toEqual([...old].sort());
      expect(new Set(entries.map((entry) => entry.id)).size).toBe(entries.length);
      expect(entries.every((entry) => entry.operator === 'old')).toBe(true);
      expect(text).not.toContain('k-secret-1');
      expect(text).not.toContain('p-secret');
      expect(text).toContain('"password":"******"');
      expect(await count(schema, `created_at < now() - interval '30 days'`)).toBe(0);
    });
  }

  it('keeps secret values with --show-secrets, so the archive is a byte-exact backup', async () => {
    const schema = await newTable();
    await insertRows(schema, secretRows());
    const path = join(dir, `${schema.name}-raw.ndjson`);
    const result = await prune(schema, ['--retention-days', '30', '--archive', path, '--show-secrets']);
    expect(result.code).toBe(0);
    const text = await readFile(path, 'utf8');
    expect(text).toContain('k-secret-1');
    expect(text).toContain('p-secret');
  });
});

describe('prune safety', () => {
  it('exits 3 at once, deleting nothing, while another session holds the lock on the table', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    const lock = await createTestSchema('prune_lock');
    schemas.push(lock);
    await lock.query('select pg_advisory_lock(hashtextextended($1, 0))', [pruneLockName(schema.table())]);
    try {
      const result = await prune(schema, ['--retention-days', '30', '--yes']);
      expect(result.code).toBe(3);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(new RegExp(`^error: another prune of ${schema.table()} is running \\(PostgreSQL backend pid \\d+.*\\); nothing was done`));
      expect(await count(schema)).toBe(67);
      // A dry run neither needs the lock nor is kept out by it.
      expect((await prune(schema, ['--retention-days', '30', '--dry-run'])).code).toBe(0);
    } finally {
      await lock.query('select pg_advisory_unlock(hashtextextended($1, 0))', [pruneLockName(schema.table())]);
    }
    expect((await prune(schema, ['--retention-days', '30'])).code).toBe(0);
    expect(await count(schema)).toBe(26);
  });

  it('--max-duration stops cleanly after the batch that crosses it; the next run continues', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    const first = await prune(schema, ['--retention-days', '30', '--batch-size', '10', '--max-duration', '1ms', '--json']);
    expect(first.code).toBe(0);
    expect(summaryOf(first)).toMatchObject({ matched: 41, deleted: 10, batches: 1, complete: false, stopped: 'max-duration' });
    expect(await count(schema)).toBe(57);
    const text = await prune(schema, ['--retention-days', '30', '--batch-size', '10', '--max-duration', '1ms']);
    expect(text.stdout).toContain('Stopped at --max-duration');
    const rest = await prune(schema, ['--retention-days', '30', '--json']);
    expect(summaryOf(rest)).toMatchObject({ matched: 21, deleted: 21, complete: true });
    expect(await count(schema, `operator = 'new'`)).toBe(26);
    expect(await count(schema)).toBe(26);
  });

  it('SIGINT/SIGTERM (io.signal) finishes the current batch, reports, exits 130, and leaves the rest intact', async () => {
    const schema = await newTable();
    await insertRows(schema, Array.from({ length: 600 }, (_, i) => ({ age: `${40 + (i % 30)} days ${i % 20} hours`, operator: 'old' })));
    await insertRows(schema, Array.from({ length: 30 }, (_, i) => ({ age: `${i} hours`, operator: 'new' })));
    const controller = new AbortController();
    const argv = ['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--batch-size', '3', '--json'];
    const running = runWithIo(argv, { signal: controller.signal });
    // Abort once the first batches are committed; bounded in count and time.
    for (let i = 0; i < 2000 && (await count(schema, `operator = 'old'`)) === 600; i += 1) await new Promise((resolve) => setTimeout(resolve, 2));
    controller.abort(new Error('received SIGTERM'));
    const result = await running;
    expect(result.code).toBe(130);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ matched: 600, complete: false, stopped: 'interrupted' });
    const deleted = Number(summary.deleted);
    expect(deleted).toBeGreaterThan(0);
    expect(deleted).toBeLessThan(600);
    expect(deleted % 3).toBe(0);
    expect(result.stderr).toContain('error: interrupted: deleted');
    expect(await count(schema, `operator = 'old'`)).toBe(600 - deleted);
    expect(await count(schema, `operator = 'new'`)).toBe(30);
    const rerun = await prune(schema, ['--retention-days', '30', '--json']);
    expect(summaryOf(rerun)).toMatchObject({ matched: 600 - deleted, deleted: 600 - deleted, complete: true });
    expect(await count(schema)).toBe(30);
  });

  it('an interruption before the first batch deletes nothing', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    const controller = new AbortController();
    controller.abort(new Error('received SIGINT'));
    const result = await runWithIo(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30'], { signal: controller.signal });
    expect(result.code).toBe(130);
    expect(result.stdout).toContain('Deleted 0 of 41 entries');
    expect(await count(schema)).toBe(67);
  });
});

describe('prune confirmation', () => {
  function terminal(answer: string): Partial<CliIo> {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    // Answer once the prompt is up; readline reads whatever is buffered.
    setTimeout(() => stdin.write(answer), 50);
    return { stdin, stderrIsTty: true };
  }

  it('on a terminal asks, showing the count and the cutoff, and a "no" deletes nothing', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    const result = await runWithIo(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30'], terminal('n\n'));
    expect(result.stderr).toMatch(new RegExp(`Delete 41 entries from ${schema.table()} older than \\S+Z, the oldest from \\S+\\? \\[y/N\\]`));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Nothing deleted: the prompt was declined.');
    expect(result.stderr).not.toContain('error:');
    expect(await count(schema)).toBe(67);
  });

  it('a "yes" deletes; --yes and non-interactive runs never ask', async () => {
    const schema = await newTable();
    await insertRows(schema, aroundThirtyDays());
    const yes = await runWithIo(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30'], terminal('yes\n'));
    expect(yes.code).toBe(0);
    expect(await count(schema)).toBe(26);
    await insertRows(schema, aroundThirtyDays());
    const flag = await runWithIo(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--yes'], { stdin: Object.assign(new PassThrough(), { isTTY: true }), stderrIsTty: true });
    expect(flag.code).toBe(0);
    expect(flag.stderr).not.toContain('[y/N]');
    expect(await count(schema)).toBe(52);
  });
});

describe('prune --demo', () => {
  it('runs on the embedded demo database', async () => {
    const result = await runCli(['--demo', 'prune', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    expect(summaryOf(result)).toMatchObject({ table: 'public.audit_logs', retention_days: 60, dry_run: true });
    expect(Number(summaryOf(result).matched)).toBeGreaterThan(0);
    // A --demo start takes 4 s of CPU, minutes on a loaded 2-core machine (it timed out at 60 s at load 14-17).
  }, 300_000);
});
