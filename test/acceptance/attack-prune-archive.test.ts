import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { spawnCli, startCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, databaseUrl, type TestSchema } from '../support/database.js';
import { createTimePartitioned, daysAgo, slowDeletes, useScratch } from './attack-prune-fixture.js';
import { sleep, waitFor } from '../support/wait.js';

// prune --archive attacked through the built binary (npm run build first): the archive's file goes away or fills
// its disk mid-run, the run is killed -9 again and again. The promise: every entry deleted is in the archive named
// (exactly as the table held it, secrets masked), the file stays readable, and the run says what happened.

const OLD = 1500;
const NEW = 20;
const scratch = useScratch('attack-prune-archive');

/** OLD entries 100 days old with a ~2 KB `after` (hex, ~1 KB in gzip) holding a password; NEW recent ones. Each DELETE statement sleeps `slowMs`. */
async function seeded(slowMs = 0): Promise<TestSchema> {
  const schema = await scratch.schema('atk_prune_arch');
  await createDefaultTable(schema);
  const t = schema.table();
  await schema.query(`insert into ${t} (created_at, operator, operation, resource_type, resource_id, source_ip, after)
    select now() - interval '100 days' + g * interval '1 s', 'old', 'update', 'route', 'r-' || g, ('10.0.' || (g % 200) || '.1')::inet,
           jsonb_build_object('n', g, 'password', 'pw-' || g, 'pad', (select string_agg(md5(g || '-' || i), '') from generate_series(1, 60) i))
    from generate_series(1, ${OLD}) g`);
  await schema.query(`insert into ${t} (created_at, operator) select now() - g * interval '1 hour', 'new' from generate_series(1, ${NEW}) g`);
  if (slowMs > 0) await slowDeletes(schema, slowMs);
  return schema;
}

interface Archived {
  id: string;
  timestamp: string;
  operator: string;
  source_ip: string | null;
  after: { n: number; password: string; pad: string };
}

/** The old entries as the table holds them, keyed by id: the ground truth an archive is compared with. */
async function groundTruth(schema: TestSchema): Promise<Map<string, Omit<Archived, 'id'>>> {
  const { rows } = await schema.query<Archived>(`
    select id::text as id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as timestamp, operator,
           host(source_ip) as source_ip, after
    from ${schema.table()} where operator = 'old'`);
  return new Map(rows.map(({ id, ...rest }) => [id, rest]));
}

const ids = async (schema: TestSchema, where = 'true') =>
  new Set((await schema.query<{ id: string }>(`select id::text as id from ${schema.table()} where ${where}`)).rows.map((row) => row.id));
const count = async (schema: TestSchema, where = 'true') => (await ids(schema, where)).size;
const pruneArgs = (schema: TestSchema, ...args: string[]) => ['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--yes', ...args];
const lines = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Archived);
const readArchive = async (path: string) => {
  const data = await readFile(path);
  return lines((path.endsWith('.gz') ? gunzipSync(data) : data).toString('utf8'));
};

/** Every archived line is the table's entry as it was, the password masked; returns the archived ids. */
function expectExact(archived: Archived[], truth: Map<string, Omit<Archived, 'id'>>): string[] {
  for (const entry of archived) {
    const expected = truth.get(entry.id);
    expect(expected, `archived id ${entry.id} is an old entry`).toBeDefined();
    expect({ timestamp: entry.timestamp, operator: entry.operator, source_ip: entry.source_ip, after: entry.after }).toEqual({
      ...expected,
      after: { ...expected?.after, password: '******' },
    });
  }
  return archived.map((entry) => entry.id);
}

interface Summary {
  deleted: number;
  archived: number;
  complete: boolean;
  stopped: string | null;
}

/** A run stopped by its archive: exit 1, one line naming the cause, and the summary of what went first. */
function expectStoppedByArchive(result: CliResult, cause: RegExp): Summary {
  expect(result.code, result.stderr).toBe(1);
  const errors = result.stderr.trim().split('\n');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(cause);
  const summary = JSON.parse(result.stdout) as Summary;
  expect(summary).toMatchObject({ complete: false, stopped: 'archive-failed' });
  expect(summary.archived).toBe(summary.deleted);
  return summary;
}

describe('prune --archive when the file goes away mid-run', () => {
  it('the file removed: nothing is deleted after it went (the old binary kept deleting into the unlinked file)', async () => {
    const schema = await seeded(20);
    const path = join(scratch.dir(), `${schema.name}-removed.ndjson`);
    const run = startCli(pruneArgs(schema, '--batch-size', '50', '--archive', path, '--json'));
    await waitFor(async () => (await count(schema, `operator = 'old'`)) < OLD - 100, 30_000, 'some batches deleted');
    await unlink(path);
    const leftAtRemoval = await count(schema, `operator = 'old'`);
    const result = await run.result;
    const summary = expectStoppedByArchive(result, /^error: archive '.*' was removed or replaced while prune ran; the batch being archived was not deleted/);
    // A batch archived before the removal may commit after it; none archived after it does.
    const left = await count(schema, `operator = 'old'`);
    expect(left).toBeGreaterThanOrEqual(leftAtRemoval - 50);
    expect(left).toBe(OLD - summary.deleted);
    expect(await count(schema, `operator = 'new'`)).toBe(NEW);
  });

  it('its directory renamed: the run stops; the file at the new name holds exactly the entries deleted, nothing else', async () => {
    const schema = await seeded(20);
    const truth = await groundTruth(schema);
    const before = join(scratch.dir(), `${schema.name}-a`);
    const after = join(scratch.dir(), `${schema.name}-b`);
    await mkdir(before);
    const run = startCli(pruneArgs(schema, '--batch-size', '50', '--archive', join(before, 'pruned.ndjson'), '--json'));
    await waitFor(async () => (await count(schema, `operator = 'old'`)) < OLD - 100, 30_000, 'some batches deleted');
    await rename(before, after);
    const summary = expectStoppedByArchive(await run.result, /^error: archive '.*pruned\.ndjson' was removed or replaced while prune ran/);

    const moved = join(after, 'pruned.ndjson');
    expect((await stat(moved)).mode & 0o777).toBe(0o600);
    const archived = expectExact(await readArchive(moved), truth);
    const left = await ids(schema, `operator = 'old'`);
    // The batch refused was cut from the file: only deleted entries are in it, each once.
    expect(archived.length).toBe(summary.deleted);
    expect(new Set(archived).size).toBe(archived.length);
    expect(archived.filter((id) => left.has(id))).toEqual([]);

    // The next run, to a new file, archives the rest: together, every old entry exactly once.
    const rest = join(scratch.dir(), `${schema.name}-rest.ndjson`);
    const rerun = await spawnCli(pruneArgs(schema, '--archive', rest, '--json'));
    expect(rerun.stderr).toBe('');
    expect(JSON.parse(rerun.stdout)).toMatchObject({ deleted: OLD - summary.deleted, complete: true });
    const all = [...archived, ...expectExact(await readArchive(rest), truth)];
    expect(all.length).toBe(OLD);
    expect(new Set(all)).toEqual(new Set(truth.keys()));
    expect(await count(schema, `operator = 'new'`)).toBe(NEW);
  });
});

/** A 1 MB tmpfs mounted for one test (root only), unmounted after. */
async function withSmallDisk<T>(name: string, use: (mount: string) => Promise<T>): Promise<T> {
  const mount = join(scratch.dir(), name);
  await mkdir(mount);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
  try {
    return await use(mount);
  } finally {
    execFileSync('umount', [mount]);
  }
}

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('prune --archive when the disk fills mid-run (a 1 MB tmpfs)', () => {
  it.each(['pruned.ndjson', 'pruned.ndjson.gz'])('%s: exit 1 naming the full disk, the summary first; the archive reads back whole and exact', async (name) => {
    const schema = await seeded();
    const truth = await groundTruth(schema);
    const kept = join(scratch.dir(), `${schema.name}-${name}`);
    const summary = await withSmallDisk(`${schema.name}-disk`, async (mount) => {
      const path = join(mount, name);
      const result = await spawnCli(pruneArgs(schema, '--batch-size', '100', '--archive', path, '--json'));
      const stopped = expectStoppedByArchive(result, /^error: cannot write archive '.*': no space left on its file system \(ENOSPC\); the batch being archived was not deleted$/);
      expect(stopped.deleted).toBeGreaterThan(0);
      await writeFile(kept, await readFile(path), { mode: 0o600 });
      return stopped;
    });
    const archived = expectExact(await readArchive(kept), truth);
    expect(archived.length).toBe(summary.deleted);
    expect(await count(schema, `operator = 'old'`)).toBe(OLD - summary.deleted);
    const left = await ids(schema, `operator = 'old'`);
    expect(archived.filter((id) => left.has(id))).toEqual([]);
    expect(await count(schema, `operator = 'new'`)).toBe(NEW);

    // The same file, appended to on a disk with room, ends up with every old entry exactly once.
    const rerun = await spawnCli(pruneArgs(schema, '--archive', kept, '--json'));
    expect(rerun.stderr).toBe('');
    expect(JSON.parse(rerun.stdout)).toMatchObject({ deleted: OLD - summary.deleted, complete: true });
    const all = expectExact(await readArchive(kept), truth);
    expect(all.length).toBe(OLD);
    expect(new Set(all)).toEqual(new Set(truth.keys()));
  });
});

describe('prune --archive killed -9 again and again', () => {
  it('no entry is deleted unarchived, the gzip reads back whole, and each kill adds at most one batch of duplicates', async () => {
    const schema = await seeded(5);
    const truth = await groundTruth(schema);
    const path = join(scratch.dir(), `${schema.name}.ndjson.gz`);
    // An archive of a previous run is there already: it is appended to, never replaced.
    const previous = (await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--operator', 'new', '--limit', '3', '--output', 'ndjson'])).stdout;
    expect(previous.split('\n').filter(Boolean)).toHaveLength(3);
    await writeFile(path, gzipSync(previous), { mode: 0o600 });
    const BATCH = 40;
    let kills = 0;
    for (let attempt = 0; attempt < 6 && (await count(schema, `operator = 'old'`)) > 0; attempt += 1) {
      // A killed client's backend lets go of the lock only once the server notices: the next run waits for it.
      const run = startCli(pruneArgs(schema, '--wait-lock', '10s', '--batch-size', String(BATCH), '--archive', path));
      const left = await count(schema, `operator = 'old'`);
      await waitFor(async () => run.exited() || (await count(schema, `operator = 'old'`)) < left, 30_000, 'a batch deleted');
      await sleep(30 + attempt * 37);
      if (run.exited()) break;
      run.child.kill('SIGKILL');
      await run.result;
      kills += 1;
    }
    expect(kills).toBeGreaterThan(0);
    const last = await spawnCli(pruneArgs(schema, '--wait-lock', '10s', '--archive', path, '--json'), { timeoutMs: 60_000 });
    expect(last.code, last.stderr).toBe(0);
    expect(await count(schema, `operator = 'old'`)).toBe(0);
    expect(await count(schema, `operator = 'new'`)).toBe(NEW);

    const archived = await readArchive(path);
    expect(archived.slice(0, 3).map((entry) => entry.operator)).toEqual(['new', 'new', 'new']);
    const ours = expectExact(archived.slice(3), truth);
    expect(new Set(ours)).toEqual(new Set(truth.keys()));
    expect(ours.length - OLD).toBeLessThanOrEqual(kills * BATCH);
  });
});

/** A table partitioned by time: p_old (200 to 150 days back, 200 entries) wholly before the cutoff, p_new with 121. */
async function partitionedTable(): Promise<{ schema: TestSchema; truth: string[] }> {
  const schema = await scratch.schema('atk_prune_arch_part');
  const t = await createTimePartitioned(schema);
  const at = (days: number) => daysAgo(schema, days);
  await schema.query(`create table ${schema.name}.p_old partition of ${t} for values from ('${await at(200)}') to ('${await at(150)}')`);
  await schema.query(`create table ${schema.name}.p_new partition of ${t} for values from ('${await at(150)}') to ('${await at(-30)}')`);
  await schema.query(`insert into ${t} (created_at, operator) select now() - interval '199 days' + g * interval '1 hour', 'in-old-partition' from generate_series(1, 200) g`);
  await schema.query(`insert into ${t} (created_at, operator) select now() - g * interval '1 day', 'row' from generate_series(0, 120) g`);
  const truth = (await schema.query<{ id: string }>(`select id::text as id from ${t} where created_at < now() - interval '60 days'`)).rows.map((row) => row.id).sort();
  return { schema, truth };
}

/** Runs `use` while a reader of `table` holds an open transaction: DETACH waits for it, up to its lock_timeout, each attempt. */
async function whileRead<T>(table: string, use: () => Promise<T>): Promise<T> {
  const reader = new pg.Client({ connectionString: databaseUrl() });
  await reader.connect();
  try {
    await reader.query(`begin; select count(*) from ${table}`);
    return await use();
  } finally {
    await reader.query('rollback').catch(() => undefined);
    await reader.end();
  }
}

describe('prune --archive of a partition whose detach keeps timing out', () => {
  it('archives its entries once, not once per attempt (the old binary archived them 5 times)', async () => {
    const { schema, truth } = await partitionedTable();
    const t = schema.table();
    const archive = join(scratch.dir(), `${schema.name}.ndjson.gz`);
    const result = await whileRead(t, () => spawnCli(['--db', databaseUrl(), '--table', t, 'prune', '--yes', '--json', '--archive', archive]));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`could not lock ${t} to detach ${schema.name}.p_old; deleting their rows instead`);
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: truth.length, archived: truth.length, partitions_dropped: 0, complete: true });
    expect((await readArchive(archive)).map((entry) => entry.id).sort()).toEqual(truth);
  });

  it('sharing its archive with a prune of another table meanwhile (waiting for its lock): no entry of either is cut from it', async () => {
    const { schema, truth } = await partitionedTable();
    const other = await seeded(20);
    const otherTruth = await groundTruth(other);
    const archive = join(scratch.dir(), `${schema.name}-shared.ndjson.gz`);
    const args = (table: string, ...extra: string[]) => ['--db', databaseUrl(), '--table', table, 'prune', '--yes', '--json', '--archive', archive, ...extra];
    const [retried, plain] = await whileRead(schema.table(), async () => {
      const running = startCli(args(other.table(), '--retention-days', '30', '--batch-size', '20'));
      await waitFor(async () => (await count(other, `operator = 'old'`)) < OLD, 30_000, 'the other prune deleting');
      return [await spawnCli(args(schema.table(), '--wait-lock', '60s')), await running.result];
    });
    expect(retried.code, retried.stderr).toBe(0);
    expect(plain.code, plain.stderr).toBe(0);
    // Every deleted entry of both tables is there; their ids overlap, their operators do not.
    const entries = await readArchive(archive);
    expect(new Set(entries.filter((entry) => entry.operator === 'old').map((entry) => entry.id))).toEqual(new Set(otherTruth.keys()));
    expect(await count(other, `operator = 'old'`)).toBe(0);
    const ofPartitioned = entries.filter((entry) => entry.operator === 'in-old-partition' || entry.operator === 'row').map((entry) => entry.id);
    expect(new Set(ofPartitioned)).toEqual(new Set(truth));
  });
});

describe('prune --archive of a partition whose detach times out after it was copied', () => {
  it('retries the DETACH alone: the copy stands, the file never shrinks, the partition is dropped (the old binary copied it again)', async () => {
    const { schema, truth } = await partitionedTable();
    const t = schema.table();
    const archive = join(scratch.dir(), `${schema.name}-retried.ndjson`);
    const reader = new pg.Client({ connectionString: databaseUrl() });
    await reader.connect();
    try {
      await reader.query(`begin; select count(*) from ${t}`);
      const run = startCli(['--db', databaseUrl(), '--table', t, 'prune', '--yes', '--json', '--batch-size', '10', '--archive', archive]);
      const sizeNow = async () => (await stat(archive).catch(() => undefined))?.size ?? 0;
      // Watch the file while the whole partition is copied and its DETACH waits on the reader's lock: it must only grow.
      let largest = 0;
      let shrank = false;
      await waitFor(async () => {
        const size = await sizeNow();
        shrank ||= size < largest;
        largest = Math.max(largest, size);
        return size > 0 && (await readFile(archive, 'utf8')).split('\n').length > 200;
      }, 30_000, 'the partition copied');
      // The first DETACH times out (200 ms) while the reader holds on; the reader lets go before the retries run out.
      for (const until = performance.now() + 500; performance.now() < until; await sleep(5)) {
        const size = await sizeNow();
        shrank ||= size < largest;
        largest = Math.max(largest, size);
      }
      await reader.query('rollback');
      const result = await run.result;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(shrank, 'the archive was cut and the partition copied again').toBe(false);
      expect(JSON.parse(result.stdout)).toMatchObject({ deleted: truth.length, archived: truth.length, partitions_dropped: 1, complete: true });
      expect((await readArchive(archive)).map((entry) => entry.id).sort()).toEqual(truth);
    } finally {
      await reader.query('rollback').catch(() => undefined);
      await reader.end();
    }
  });
});

describe('prune --archive of a partition killed -9 while copied or while its DETACH waits', () => {
  it('every entry is archived or still in the table after each kill; the rerun drops the partition and archives all', async () => {
    const { schema, truth } = await partitionedTable();
    const t = schema.table();
    const archive = join(scratch.dir(), `${schema.name}-killed.ndjson.gz`);
    const args = ['--db', databaseUrl(), '--table', t, 'prune', '--yes', '--json', '--batch-size', '10', '--wait-lock', '10s', '--archive', archive];
    const expectNoneLost = async () => {
      const there = await ids(schema);
      const archived = new Set(existsSync(archive) ? (await readArchive(archive)).map((entry) => entry.id) : []);
      expect(truth.filter((id) => !there.has(id) && !archived.has(id))).toEqual([]);
    };
    // The reader keeps every DETACH waiting: a kill lands in the copy, between DETACH attempts or in one.
    await whileRead(t, async () => {
      for (let attempt = 0; attempt < 4; attempt += 1) {
        const run = startCli(args);
        await sleep(400 + Math.floor(Math.random() * 1600));
        run.child.kill('SIGKILL');
        await run.result;
        await expectNoneLost();
      }
    });
    // A run killed before its DETACH got the lock left the partition attached; one whose DETACH retries ran out (about
    // 2 s) had begun deleting its entries row by row, each archived first. Either way none is lost.
    await expectNoneLost();
    const last = await spawnCli(args, { timeoutMs: 60_000 });
    expect(last.code, last.stderr).toBe(0);
    expect(JSON.parse(last.stdout)).toMatchObject({ partitions_dropped: 1, complete: true });
    const archived = new Set((await readArchive(archive)).map((entry) => entry.id));
    expect(truth.filter((id) => !archived.has(id))).toEqual([]);
    const left = await ids(schema);
    expect(truth.filter((id) => left.has(id))).toEqual([]);
  });
});

describe('prune --archive refused with --seal-store', () => {
  it('writes no prune record: the seal store does not say that entries still there were pruned (it did, then exited 2)', async () => {
    const schema = await seeded();
    const key = join(scratch.dir(), `${schema.name}.key`);
    expect((await spawnCli(['seal', '--new-key', '--key', key])).code).toBe(0);
    const store = join(scratch.dir(), `${schema.name}-store`);
    await mkdir(store);
    const db = ['--db', databaseUrl(), '--table', schema.table()];
    expect((await spawnCli([...db, 'seal', '--key', key, '--store', store])).code).toBe(0);
    const sealed = await readdir(store);
    const notes = join(scratch.dir(), `${schema.name}-notes.json`);
    await writeFile(notes, '{"name":"not entries"}\n');
    const result = await spawnCli(pruneArgs(schema, '--seal-store', store, '--seal-key', key, '--archive', notes));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('is not an NDJSON file of entries');
    expect(await readdir(store)).toEqual(sealed);
    expect(await count(schema, `operator = 'old'`)).toBe(OLD);
  });
});
