import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli, type Running } from '../support/cli.js';
import { parseCsv } from '../support/csv.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

// Ctrl-C while NDJSON or CSV goes into a pipe leaves whole lines only. Lines longer than a pipe holds (64 KB) were
// half in the pipe and half queued in the process when it exited at once: the last line was cut in most runs.
const ROWS = 120;
/** Each `after` holds this many bytes: every line is longer than the pipe's buffer. */
const PAD = 70_000;
const RUNS = 30;
const BOUND_MS = 20_000;

let schema: TestSchema;
let dir: string;
const base = () => ['--db', databaseUrl(), '--table', schema.table()];

beforeAll(async () => {
  schema = await createTestSchema('interrupt_lines');
  await createDefaultTable(schema);
  // A comma and a quote in every row: CSV quotes the field, so a cut inside it would show. The oldest creates r-1,
  // so its history is complete.
  await schema.query(
    `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, before, after)
     select now() - i * interval '1 second', 'alice, "a"', case when i = ${ROWS} then 'create' else 'update' end, 'route', 'r-1',
            case when i < ${ROWS} then jsonb_build_object('n', i) end, jsonb_build_object('n', i, 'pad', repeat('x', ${PAD}))
     from generate_series(1, ${ROWS}) i`,
  );
  dir = await mkdtemp(join(tmpdir(), 'interrupt-lines-'));
});
afterAll(async () => {
  await schema?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts `argv`, sends SIGINT at a random moment after the first output, and waits for the end. */
async function interruptAtRandom(argv: string[], firstOutput: (run: Running) => boolean): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startCli(argv, { timeoutMs: BOUND_MS });
  const started = Date.now();
  while (!firstOutput(run) && !run.exited() && Date.now() - started < BOUND_MS) await sleep(5);
  await sleep(Math.random() * 150);
  run.child.kill('SIGINT');
  return run.result;
}

/**
 * 130 when interrupted; 0 when the signal came after the last row; killed by the signal (128 here) only when it came
 * as the process was ending, after the last byte, when Node no longer runs handlers (the output is then whole).
 */
function expectEndedWell(result: { code: number; stderr: string }): void {
  expect([0, 128, 130], result.stderr).toContain(result.code);
}

function ids(lines: string[]): number[] {
  return lines.map((line) => (JSON.parse(line) as { id: number }).id);
}

/** Every line parses and the lines are the first ones of the whole result, in order. */
function expectNdjsonPrefix(stdout: string, whole: number[]): number {
  expect(stdout === '' || stdout.endsWith('\n'), `ends mid-line after ${stdout.length} bytes`).toBe(true);
  const lines = stdout.split('\n').slice(0, -1);
  expect(ids(lines)).toEqual(whole.slice(0, lines.length));
  return lines.length;
}

describe('SIGINT at random moments leaves whole lines, a prefix of the SQL result', () => {
  it(`list --all -o ndjson into a pipe (${RUNS} runs)`, async () => {
    const full = await spawnCli([...base(), 'list', '--all', '-o', 'ndjson']);
    expect(full.code).toBe(0);
    const whole = ids(full.stdout.split('\n').slice(0, -1));
    expect(whole).toHaveLength(ROWS);
    const counts: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const result = await interruptAtRandom([...base(), 'list', '--all', '-o', 'ndjson'], (run) => run.stdout().length > 0);
      expectEndedWell(result);
      expect(result.stderr).toBe(result.code === 130 ? 'error: interrupted (SIGINT)\n' : '');
      counts.push(expectNdjsonPrefix(result.stdout, whole));
      if (result.code !== 130) expect(counts.at(-1)).toBe(ROWS);
    }
    // The interrupts landed mid-stream, not all after the end.
    expect(counts.some((count) => count < ROWS)).toBe(true);
  }, RUNS * BOUND_MS);

  it(`list --all -o csv into a pipe (${RUNS} runs)`, async () => {
    const full = parseCsv((await spawnCli([...base(), 'list', '--all', '-o', 'csv'])).stdout);
    const header = full[0] ?? [];
    const idColumn = header.indexOf('id');
    const whole = full.slice(1).map((row) => row[idColumn]);
    for (let i = 0; i < RUNS; i += 1) {
      const result = await interruptAtRandom([...base(), 'list', '--all', '-o', 'csv'], (run) => run.stdout().length > 0);
      expectEndedWell(result);
      expect(result.stdout.endsWith('\r\n'), `ends mid-record after ${result.stdout.length} bytes`).toBe(true);
      const rows = parseCsv(result.stdout);
      expect(rows[0]).toEqual(header);
      for (const row of rows) expect(row).toHaveLength(header.length);
      expect(rows.slice(1).map((row) => row[idColumn])).toEqual(whole.slice(0, rows.length - 1));
      if (result.code !== 130) expect(rows.length - 1).toBe(whole.length);
    }
  }, RUNS * BOUND_MS);

  it('history -o ndjson into a pipe (10 runs)', async () => {
    const full = await spawnCli([...base(), 'history', 'route:r-1', '-o', 'ndjson']);
    expect(full.code, full.stderr).toBe(0);
    const whole = ids(full.stdout.split('\n').slice(0, -1));
    for (let i = 0; i < 10; i += 1) {
      const result = await interruptAtRandom([...base(), 'history', 'route:r-1', '-o', 'ndjson'], (run) => run.stdout().length > 0);
      expectEndedWell(result);
      const count = expectNdjsonPrefix(result.stdout, whole);
      if (result.code !== 130) expect(count).toBe(whole.length);
    }
  }, 10 * BOUND_MS);

  it('follow -o ndjson and export --out - into a pipe (10 runs each): they stop at a safe point, whole lines', async () => {
    const full = await spawnCli([...base(), 'list', '--all', '--order', 'asc', '-o', 'ndjson']);
    const whole = ids(full.stdout.split('\n').slice(0, -1));
    for (let i = 0; i < 10; i += 1) {
      const follow = await interruptAtRandom([...base(), 'follow', '--since', '1d', '--settle', '0', '-o', 'ndjson'], (run) => run.stdout().length > 0);
      // follow ends on Ctrl-C with exit 0 (README).
      expect(follow.code, follow.stderr).toBe(0);
      expectNdjsonPrefix(follow.stdout, whole);
      const exported = await interruptAtRandom([...base(), 'export', '--out', '-', '--settle', '0', '--batch-size', '5'], (run) => run.stdout().length > 0);
      expectEndedWell(exported);
      expectNdjsonPrefix(exported.stdout, whole);
    }
  }, 20 * BOUND_MS);

  it('export --out FILE (10 runs): the file holds whole lines', async () => {
    for (let i = 0; i < 10; i += 1) {
      const out = join(dir, `export-${i}.ndjson`);
      const result = await interruptAtRandom([...base(), 'export', '--out', out, '--settle', '0', '--batch-size', '5'], (run) => run.stderr().length > 0 || readSize(out) > 0);
      expectEndedWell(result);
      const text = readSize(out) > 0 ? readFileSync(out, 'utf8') : '';
      expect(text === '' || text.endsWith('\n')).toBe(true);
      for (const line of text.split('\n').slice(0, -1)) expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
  }, 10 * BOUND_MS);
});

function readSize(path: string): number {
  try {
    return readFileSync(path).length;
  } catch {
    return 0;
  }
}

/**
 * Starts `argv`, stops reading its stdout once output comes (the pipe fills), sends SIGINT and resumes reading
 * `resumeAfterMs` later; returns the outcome and how long the process took to end after the signal.
 */
async function interruptWithStalledReader(argv: string[], resumeAfterMs: number): Promise<{ result: { code: number; stdout: string; stderr: string }; took: number }> {
  const run = startCli([...base(), ...argv], { timeoutMs: BOUND_MS });
  const started = Date.now();
  while (run.stdout().length === 0 && !run.exited() && Date.now() - started < BOUND_MS) await sleep(5);
  run.child.stdout?.pause();
  await sleep(300);
  const sent = Date.now();
  run.child.kill('SIGINT');
  const resumed = sleep(resumeAfterMs).then(() => run.child.stdout?.resume());
  const result = await run.result;
  const took = Date.now() - sent;
  await resumed;
  return { result, took };
}

describe('a reader that stops reading does not hold Ctrl-C', () => {
  it('a reader that takes nothing: exit 130 within the 2 s bound, saying the last line may be cut', async () => {
    // Resumed only after the bound, so the reader is as stuck as a pager waiting for a key.
    const { result, took } = await interruptWithStalledReader(['list', '--all', '-o', 'ndjson'], 3000);
    expect(result.code).toBe(130);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(3000);
    expect(result.stderr).toBe("error: interrupted (SIGINT); stdout's reader did not take the rest within 2 s: the last line may be cut\n");
  }, BOUND_MS);

  it('a reader that is 1 s late: whole lines and the plain message', async () => {
    const full = await spawnCli([...base(), 'list', '--all', '-o', 'ndjson']);
    const whole = ids(full.stdout.split('\n').slice(0, -1));
    const { result } = await interruptWithStalledReader(['list', '--all', '-o', 'ndjson'], 1000);
    expect(result.code).toBe(130);
    expect(result.stderr).toBe('error: interrupted (SIGINT)\n');
    expectNdjsonPrefix(result.stdout, whole);
  }, BOUND_MS);

  it.each([
    ['follow', ['follow', '--since', '1d', '--settle', '0', '-o', 'ndjson']],
    ['export --out -', ['export', '--out', '-', '--settle', '0', '--batch-size', '5']],
  ])('%s: a reader that takes nothing does not hold Ctrl-C either (the first one)', async (_name, argv) => {
    const { result, took } = await interruptWithStalledReader(argv, 6000);
    // Before: both waited for the reader (6 s here, forever for a pager left open).
    expect(took, result.stderr).toBeLessThan(4000);
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/error: interrupted \(SIGINT\); stdout's reader did not take the rest within 2 s: the last line may be cut\n$/);
  }, BOUND_MS);

  it('| head -1 stays a quiet exit 0', async () => {
    const run = startCli([...base(), 'list', '--all', '-o', 'ndjson'], { timeoutMs: BOUND_MS });
    while (run.stdout().length === 0 && !run.exited()) await sleep(5);
    run.child.stdout?.destroy();
    const result = await run.result;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  }, BOUND_MS);
});
