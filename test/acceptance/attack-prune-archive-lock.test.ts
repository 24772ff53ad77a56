import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { spawnCli, startCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, databaseUrl, type TestSchema } from '../support/database.js';
import { slowDeletes, useScratch } from './attack-prune-fixture.js';
import { sleep, waitFor } from '../support/wait.js';

// Two prunes given one --archive (two crontab lines, two tables or two databases) through the built binary (npm run
// build first). The old binary let both write the file at once: one's torn-tail repair or rolled-back batch could cut
// the other's lines. The promise: one prune writes an archive at a time, the other exits 3 or waits (--wait-lock),
// and a holder killed -9 does not keep the archive locked.

const OLD = 1000;
const scratch = useScratch('attack-prune-archive-lock');

/** OLD entries 100 days old whose operator is the schema's name, 2 recent ones; each DELETE statement sleeps 20 ms. */
async function seeded(): Promise<TestSchema> {
  const schema = await scratch.schema('atk_prune_lock');
  await createDefaultTable(schema);
  const t = schema.table();
  await schema.query(`insert into ${t} (created_at, operator, operation, resource_type, resource_id, after)
    select now() - interval '100 days' + g * interval '1 s', '${schema.name}', 'update', 'route', 'r-' || g,
           jsonb_build_object('n', g, 'pad', (select string_agg(md5(g || '-' || i), '') from generate_series(1, 20) i))
    from generate_series(1, ${OLD}) g`);
  await schema.query(`insert into ${t} (created_at, operator) select now() - g * interval '1 hour', 'new' from generate_series(1, 2) g`);
  await slowDeletes(schema, 20);
  return schema;
}

const oldLeft = async (schema: TestSchema) =>
  Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()} where operator = $1`, [schema.name])).rows[0]?.n);
const allIds = async (schema: TestSchema) =>
  (await schema.query<{ id: string }>(`select id::text as id from ${schema.table()} where operator = $1`, [schema.name])).rows.map((row) => row.id);
const pruneArgs = (schema: TestSchema, archive: string, ...extra: string[]) =>
  ['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--yes', '--json', '--batch-size', '25', '--archive', archive, ...extra];

/** Every line of the archive, parsed: a torn or interleaved line fails JSON.parse, a damaged gzip member gunzip. */
async function readArchive(path: string): Promise<{ id: string; operator: string }[]> {
  const data = await readFile(path);
  const text = (path.endsWith('.gz') ? gunzipSync(data) : data).toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as { id: string; operator: string });
}

const idsOf = (entries: { id: string; operator: string }[], schema: TestSchema) => entries.filter((entry) => entry.operator === schema.name).map((entry) => entry.id);

/** The archive's lines of `schema`: each of its old entries exactly once (`atMostExtra` duplicates allowed after a kill). */
function expectArchivedOnce(entries: { id: string; operator: string }[], schema: TestSchema, truth: string[], atMostExtra = 0): void {
  const ids = idsOf(entries, schema);
  expect(new Set(ids)).toEqual(new Set(truth));
  expect(ids.length - truth.length).toBeLessThanOrEqual(atMostExtra);
}

/** The run kept out by the archive's lock: exit 3, one line naming the file, the holder's pid and table; nothing deleted. */
function expectKeptOut(result: CliResult, archive: string, holder: { pid?: number; table: string }): void {
  expect(result.code, result.stderr).toBe(3);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`error: another prune is writing archive '${archive}' (pid ${holder.pid ?? ''}`);
  expect(lines[0]).toContain(`pruning ${holder.table}`);
  expect(lines[0]).toContain(`lock file ${archive}.lock); nothing was done: try again when it has finished, or wait for it with --wait-lock 10m`);
}

describe('prune --archive shared by two prunes of two tables started at once', () => {
  it('without --wait-lock: one writes the archive, the other exits 3 naming the file and the holder, deleting nothing', async () => {
    const [a, b] = [await seeded(), await seeded()];
    const [truthA, truthB] = [await allIds(a), await allIds(b)];
    const archive = join(scratch.dir(), 'shared.ndjson.gz');
    const runs = [startCli(pruneArgs(a, archive)), startCli(pruneArgs(b, archive))];
    const [resultA, resultB] = await Promise.all(runs.map((run) => run.result));
    // The old binary: both exited 0, both writing the file at once.
    const aWon = resultA?.code === 0;
    const [winner, loser] = aWon ? [a, b] : [b, a];
    expect((aWon ? resultA : resultB)?.code).toBe(0);
    expectKeptOut((aWon ? resultB : resultA) as CliResult, archive, { pid: runs[aWon ? 0 : 1]?.child.pid, table: winner.table() });
    expect(await oldLeft(winner)).toBe(0);
    expect(await oldLeft(loser)).toBe(OLD);
    expect(existsSync(`${archive}.lock`)).toBe(false);

    // Run again, it appends its entries after the winner's: each entry of both tables is there once, each line whole.
    const again = await spawnCli(pruneArgs(loser, archive));
    expect(again.code, again.stderr).toBe(0);
    const entries = await readArchive(archive);
    expectArchivedOnce(entries, a, truthA);
    expectArchivedOnce(entries, b, truthB);
    expect(entries).toHaveLength(2 * OLD);
  });

  it('with --wait-lock: the second waits for the first, and the archive holds every entry of both exactly once', async () => {
    const [a, b] = [await seeded(), await seeded()];
    const [truthA, truthB] = [await allIds(a), await allIds(b)];
    const archive = join(scratch.dir(), 'waited.ndjson');
    const results = await Promise.all([a, b].map((schema) => spawnCli(pruneArgs(schema, archive, '--wait-lock', '60s'))));
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toMatchObject({ deleted: OLD, archived: OLD, complete: true });
    }
    const entries = await readArchive(archive);
    expect(entries).toHaveLength(2 * OLD);
    expectArchivedOnce(entries, a, truthA);
    expectArchivedOnce(entries, b, truthB);
    // One ran after the other: the archive is one table's entries, then the other's.
    const operators = entries.map((entry) => entry.operator);
    expect(operators.slice(0, OLD).every((operator) => operator === operators[0])).toBe(true);
    expect(existsSync(`${archive}.lock`)).toBe(false);
  });
});

describe('prune --archive whose holder was killed -9', () => {
  it('the lock it left is stale: a prune waiting for it goes on, one of another table takes it at once, the killed one finishes on rerun', async () => {
    const [a, b, c] = [await seeded(), await seeded(), await seeded()];
    const [truthA, truthB, truthC] = [await allIds(a), await allIds(b), await allIds(c)];
    const archive = join(scratch.dir(), 'killed.ndjson.gz');
    const BATCH = 25;
    let kills = 0;
    for (let attempt = 0; attempt < 3 && (await oldLeft(a)) > 0; attempt += 1) {
      const run = startCli(pruneArgs(a, archive, '--wait-lock', '10s'));
      const left = await oldLeft(a);
      await waitFor(async () => run.exited() || (await oldLeft(a)) < left, 30_000, 'a batch deleted');
      // First a prune of another table that waits for the archive while the holder runs, then is left a stale lock.
      const waiting = attempt === 0 ? startCli(pruneArgs(b, archive, '--wait-lock', '30s')) : undefined;
      await sleep(attempt === 0 ? 300 : 20 + attempt * 41);
      if (run.exited()) break;
      run.child.kill('SIGKILL');
      await run.result;
      kills += 1;
      if (waiting) {
        const waited = await waiting.result;
        expect(waited.code, waited.stderr).toBe(0);
        expect(waited.stderr).toBe('');
        expect(await oldLeft(b)).toBe(0);
        continue;
      }
      expect(existsSync(`${archive}.lock`)).toBe(true);
      // No --wait-lock: the stale lock file is no reason to wait, only a running holder is.
      if (attempt === 1) {
        const other = await spawnCli(pruneArgs(c, archive));
        expect(other.code, other.stderr).toBe(0);
        expect(other.stderr).toBe('');
      }
    }
    expect(kills).toBeGreaterThan(1);
    // The killed client's backend may still hold the table's advisory lock for a moment: wait for that one.
    const last = await spawnCli(pruneArgs(a, archive, '--wait-lock', '10s'));
    expect(last.code, last.stderr).toBe(0);
    for (const schema of [a, b, c]) expect(await oldLeft(schema)).toBe(0);
    const entries = await readArchive(archive);
    expectArchivedOnce(entries, a, truthA, kills * BATCH);
    expectArchivedOnce(entries, b, truthB);
    expectArchivedOnce(entries, c, truthC);
    expect(existsSync(`${archive}.lock`)).toBe(false);
  });
});

describe('prune --archive whose stale lock four prunes find at once', () => {
  it('one of them removes it, each takes the archive in turn, every entry of the four tables is there once', async () => {
    const schemas = [await seeded(), await seeded(), await seeded(), await seeded()];
    const truths = await Promise.all(schemas.map(allIds));
    const archive = join(scratch.dir(), 'stale-four.ndjson.gz');
    const exited = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(`${archive}.lock`, `${JSON.stringify({ pid: exited, host: hostname(), since: '2026-12-04T23:00:00.000Z', table: 'gone.audit_logs' })}\n`);
    const results = await Promise.all(schemas.map((schema) => spawnCli(pruneArgs(schema, archive, '--wait-lock', '60s'), { timeoutMs: 90_000 })));
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
    }
    const entries = await readArchive(archive);
    expect(entries).toHaveLength(4 * OLD);
    schemas.forEach((schema, index) => expectArchivedOnce(entries, schema, truths[index] ?? []));
    expect(existsSync(`${archive}.lock`)).toBe(false);
    expect(existsSync(`${archive}.lock.break`)).toBe(false);
  });
});

describe('prune --archive whose lock file another writer holds', () => {
  const lockOf = (pid: number, host: string) => `${JSON.stringify({ pid, host, since: '2026-12-04T23:00:00.000Z', table: 'other.audit_logs' })}\n`;

  it('a live process on this host: exit 3 naming it, nothing deleted, its lock left as it was', async () => {
    const schema = await seeded();
    const archive = join(scratch.dir(), `${schema.name}-live.ndjson`);
    await writeFile(`${archive}.lock`, lockOf(process.pid, hostname()));
    const result = await spawnCli(pruneArgs(schema, archive));
    expectKeptOut(result, archive, { pid: process.pid, table: 'other.audit_logs' });
    expect(await oldLeft(schema)).toBe(OLD);
    expect(await readFile(`${archive}.lock`, 'utf8')).toBe(lockOf(process.pid, hostname()));
    expect(existsSync(archive)).toBe(false);
  });

  it('a process on another host (a shared directory): exit 3, saying to remove the lock file if nothing runs there', async () => {
    const schema = await seeded();
    const archive = join(scratch.dir(), `${schema.name}-remote.ndjson`);
    await writeFile(`${archive}.lock`, lockOf(1, 'elsewhere.example'));
    const result = await spawnCli(pruneArgs(schema, archive, '--wait-lock', '1s'));
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toBe(
      `error: another prune is writing archive '${archive}' (pid 1 on elsewhere.example, pruning other.audit_logs, since 2026-12-04T23:00:00.000Z; ` +
        `lock file ${archive}.lock); nothing was done after waiting 1s: try again later or with a longer --wait-lock; ` +
        `if no prune runs on elsewhere.example, remove ${archive}.lock\n`,
    );
    expect(await oldLeft(schema)).toBe(OLD);
  });

  it('the lock file removed mid-run: the run stops, exit 1, before writing another batch', async () => {
    const schema = await seeded();
    const archive = join(scratch.dir(), `${schema.name}-removed-lock.ndjson`);
    const run = startCli(pruneArgs(schema, archive));
    await waitFor(async () => (await oldLeft(schema)) < OLD - 100, 30_000, 'some batches deleted');
    await unlink(`${archive}.lock`);
    await writeFile(`${archive}.lock`, lockOf(process.pid, hostname()));
    const result = await run.result;
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^error: the lock file '.*\.lock' of archive '.*' was removed or replaced while prune ran; the batch being archived was not deleted\n$/);
    const summary = JSON.parse(result.stdout) as { deleted: number; archived: number; stopped: string };
    expect(summary).toMatchObject({ stopped: 'archive-failed', archived: summary.deleted });
    expect(await oldLeft(schema)).toBe(OLD - summary.deleted);
    expect((await readArchive(archive)).length).toBe(summary.deleted);
    // The other writer's lock is left alone.
    expect(await readFile(`${archive}.lock`, 'utf8')).toBe(lockOf(process.pid, hostname()));
  });
});
