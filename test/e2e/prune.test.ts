import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pruneLockName } from '../../src/db/advisory-lock.js';
import { BIN, spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

// These spawn the built binary (npm run build first; npm test does).
const schemas: TestSchema[] = [];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prune-e2e-'));
});
afterEach(async () => {
  await Promise.all(schemas.splice(0).map((schema) => schema.drop()));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const OLD = 3000;
const NEW = 50;

async function seeded(): Promise<TestSchema> {
  const schema = await createTestSchema('prune_e2e');
  schemas.push(schema);
  await createDefaultTable(schema);
  await insertRows(schema, Array.from({ length: OLD }, (_, i) => ({ age: `${61 + (i % 90)} days ${i % 23} hours`, operator: 'old', after: { n: i } })));
  await insertRows(schema, Array.from({ length: NEW }, (_, i) => ({ age: `${i % 59} days`, operator: 'new' })));
  return schema;
}

interface Running {
  child: ChildProcess;
  done: Promise<CliResult>;
}

function start(schema: TestSchema, args: string[]): Running {
  const child = spawn(process.execPath, [BIN, '--db', databaseUrl(), '--table', schema.table(), 'prune', ...args], {
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 128), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
  return { child, done };
}

const count = async (schema: TestSchema, where = 'true') => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()} where ${where}`)).rows[0]?.n);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the prune has committed some batches. */
async function untilSomeDeleted(schema: TestSchema): Promise<void> {
  for (let i = 0; i < 3000 && (await count(schema, `operator = 'old'`)) === OLD; i += 1) await sleep(5);
}

/**
 * After a SIGKILL a real server ends the dead client's session, which releases its advisory lock; wait (bounded)
 * for that. The embedded server has one session for every client, so nothing ends it: release it as the server would.
 */
async function untilLockReleased(schema: TestSchema): Promise<void> {
  const key = pruneLockName(schema.table());
  if (isEmbedded()) {
    await schema.query('select pg_advisory_unlock_all()');
    return;
  }
  for (let i = 0; i < 500; i += 1) {
    const held = await schema.query(
      `select 1 from pg_locks where locktype = 'advisory' and objsubid = 1 and ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
      [key],
    );
    if (held.rowCount === 0) return;
    await sleep(10);
  }
}

const archivedIds = (text: string) =>
  text
    .split('\n')
    // A line torn by the kill has no newline after it and is not JSON: it was never committed.
    .filter((line) => line.startsWith('{') && line.endsWith('}'))
    .map((line) => (JSON.parse(line) as { id: string }).id);

describe('prune, the built binary', () => {
  it('prints help with examples', async () => {
    const help = await spawnCli(['prune', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('$ api7-audit prune --dry-run');
    expect(help.stdout).toContain('--retention-days <n>');
  });

  it('killed mid-run (SIGKILL) loses nothing that should stay and leaves no deleted entry unarchived; a rerun finishes', async () => {
    const schema = await seeded();
    const oldIds = (await schema.query<{ id: string }>(`select id::text from ${schema.table()} where operator = 'old'`)).rows.map((row) => row.id);
    const archive = join(dir, `${schema.name}.ndjson`);
    const running = start(schema, ['--yes', '--batch-size', '20', '--archive', archive]);
    await untilSomeDeleted(schema);
    running.child.kill('SIGKILL');
    const killed = await running.done;
    expect(killed.code).toBe(137);
    const remainingOld = await count(schema, `operator = 'old'`);
    expect(remainingOld).toBeLessThan(OLD);
    expect(remainingOld).toBeGreaterThan(0);
    expect(await count(schema, `operator = 'new'`)).toBe(NEW);
    const left = new Set((await schema.query<{ id: string }>(`select id::text from ${schema.table()}`)).rows.map((row) => row.id));
    const archived = new Set(archivedIds(await readFile(archive, 'utf8')));
    const deleted = oldIds.filter((id) => !left.has(id));
    expect(deleted.filter((id) => !archived.has(id))).toEqual([]);

    await untilLockReleased(schema);
    const rerun = start(schema, ['--yes', '--batch-size', '500', '--archive', archive, '--json']);
    const result = await rerun.done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ matched: remainingOld, deleted: remainingOld, complete: true });
    expect(await count(schema, `operator = 'old'`)).toBe(0);
    expect(await count(schema, `operator = 'new'`)).toBe(NEW);
    const all = archivedIds(await readFile(archive, 'utf8'));
    expect(new Set(all)).toEqual(new Set(oldIds));
  });

  it('SIGTERM finishes the current batch, prints the summary and exits 130; the next run continues', async () => {
    const schema = await seeded();
    const running = start(schema, ['--yes', '--batch-size', '10', '--json']);
    await untilSomeDeleted(schema);
    running.child.kill('SIGTERM');
    const result = await running.done;
    expect(result.code).toBe(130);
    const summary = JSON.parse(result.stdout) as { deleted: number; stopped: string; complete: boolean };
    expect(summary).toMatchObject({ stopped: 'interrupted', complete: false });
    expect(summary.deleted % 10).toBe(0);
    expect(await count(schema, `operator = 'old'`)).toBe(OLD - summary.deleted);
    expect(result.stderr).toMatch(/^error: interrupted: deleted \d+ of 3000 entries; the rest is intact, run again to continue\n$/);
    const rest = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--yes', '--json']);
    expect(JSON.parse(rest.stdout)).toMatchObject({ deleted: OLD - summary.deleted, complete: true });
    expect(await count(schema)).toBe(NEW);
  });

  it('two prunes started together delete exactly the expected rows between them; one reports the lock with exit 3', async () => {
    const schema = await seeded();
    // Small batches keep the winner busy well past the loser's start-up.
    const [a, b] = [start(schema, ['--yes', '--batch-size', '5', '--json']), start(schema, ['--yes', '--batch-size', '5', '--json'])];
    const results = await Promise.all([a.done, b.done]);
    expect(results.map((result) => result.code).sort()).toEqual([0, 3]);
    const busy = results.find((result) => result.code === 3) as CliResult;
    const winner = results.find((result) => result.code === 0) as CliResult;
    expect(busy.stdout).toBe('');
    expect(busy.stderr).toMatch(new RegExp(`^error: another prune of ${schema.table()} is running \\(PostgreSQL backend pid \\d+`));
    expect(JSON.parse(winner.stdout)).toMatchObject({ matched: OLD, deleted: OLD, complete: true });
    expect(await count(schema, `operator = 'old'`)).toBe(0);
    expect(await count(schema, `operator = 'new'`)).toBe(NEW);
  });
});
