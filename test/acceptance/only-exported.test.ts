import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createPartitionedTable, createTestSchema, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';

const TOKEN = 'hec-token';
let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  schema = await createTestSchema('only_exp');
  await createDefaultTable(schema);
  dir = await mkdtemp(join(tmpdir(), 'api7-only-exported-'));
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

// 200 entries, one a day for 200 days (each an hour past its day), half of them by user1: 141 older than 60 days.
beforeEach(async () => {
  await schema.query(`truncate ${schema.table()}`);
  await schema.query(`insert into ${schema.table()} (created_at, operator, operation)
    select now() - make_interval(days => i, hours => 1), 'user' || (i % 2), 'update' from generate_series(1, 200) i`);
});

const count = async (condition = 'true') =>
  Number((await schema.query<{ n: string }>(`select count(*) n from ${schema.table()} where ${condition}`)).rows[0]?.n);
const cli = (args: string[], url = databaseUrl(), table = schema.table()): Promise<CliResult> =>
  spawnCli(['--db', url, '--table', table, ...args], { cwd: dir, env: { API7_AUDIT_HEC_TOKEN: TOKEN } });
const file = (name: string) => join(dir, `${name}-${randomBytes(3).toString('hex')}.json`);
const exportTo = (checkpoint: string, ...extra: string[]) => cli(['export', '--out', join(dir, 'out.ndjson'), '--checkpoint', checkpoint, '--json', ...extra]);
const prune = (checkpoint: string, days = '60') => cli(['prune', '--retention-days', days, '--only-exported', checkpoint, '--yes', '--json']);
const oneLine = (result: CliResult) => result.stderr.trim().split('\n');

/** Asserts a refusal: exit 2, one line on stderr containing `why`, nothing deleted. */
async function expectRefused(checkpoint: string, why: string): Promise<void> {
  const before = await count();
  const result = await prune(checkpoint);
  expect(result.code, result.stderr).toBe(2);
  expect(oneLine(result)).toHaveLength(1);
  expect(result.stderr).toContain(why);
  expect(result.stderr).not.toContain('    at ');
  expect(await count()).toBe(before);
}

describe('prune --only-exported refuses a checkpoint it cannot trust', () => {
  it('written by a filtered export (--operator, --since), with the hint', async () => {
    for (const filter of [['--operator', 'user1'], ['--since', '30d']]) {
      const checkpoint = file('filtered');
      const exported = await exportTo(checkpoint, ...filter);
      expect(exported.code, exported.stderr).toBe(0);
      await expectRefused(checkpoint, `filtered export (${filter[0]} `);
      await expectRefused(checkpoint, 'run one export of every entry (no filters) with a new --checkpoint file');
    }
  });

  it('a version-1 file: refused with the hint; export continues after it and upgrades it, still untrusted', async () => {
    const checkpoint = file('v1');
    const [middle] = (await schema.query<{ t: string; id: string }>(
      `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') t, id::text id from ${schema.table()} order by created_at limit 1 offset 99`,
    )).rows;
    await writeFile(checkpoint, JSON.stringify({ version: 1, timestamp: middle?.t, id: middle?.id, updated_at: '2026-01-01T00:00:00Z' }));
    await expectRefused(checkpoint, 'a version-1 checkpoint');
    await expectRefused(checkpoint, 'run one export of every entry (no filters) with a new --checkpoint file');
    const exported = await exportTo(checkpoint);
    expect(exported.code, exported.stderr).toBe(0);
    expect((JSON.parse(exported.stdout) as { exported: number }).exported).toBe(100);
    const upgraded = JSON.parse(await readFile(checkpoint, 'utf8')) as { version: number; late_commit_guard: string; filters: object };
    expect(upgraded).toMatchObject({ version: 2, late_commit_guard: 'unknown', filters: {} });
    await expectRefused(checkpoint, 'upgraded from a version-1 file');
  });

  it('a run with the settle window only', async () => {
    const checkpoint = file('settle');
    const [last] = (await schema.query<{ t: string; id: string }>(
      `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') t, id::text id from ${schema.table()} order by created_at desc limit 1`,
    )).rows;
    await writeFile(checkpoint, JSON.stringify({
      version: 2, timestamp: last?.t, id: last?.id, updated_at: '2026-01-01T00:00:00Z', destination: 'file', filters: {}, late_commit_guard: 'settle',
    }));
    await expectRefused(checkpoint, 'could see only the --settle window');
  });

  it('export refuses to continue a checkpoint written with other filters or for another destination, naming both', async () => {
    const checkpoint = file('stream');
    expect((await exportTo(checkpoint, '--operator', 'user1')).code).toBe(0);
    const other = await exportTo(checkpoint, '--operator', 'user0', '--since', '30d');
    expect(other.code).toBe(2);
    expect(oneLine(other)).toEqual([
      `error: checkpoint ${checkpoint} was written by exports with --operator user1, this run has --since 30 days ago --operator user0: use the same filters, or another checkpoint file`,
    ]);
    const unfiltered = await exportTo(checkpoint);
    expect(unfiltered.code).toBe(2);
    expect(unfiltered.stderr).toContain('this run has no filters');
    const hec = await FakeHec.start({ token: TOKEN });
    try {
      const elsewhere = await cli(['export', '--hec-url', hec.server.url, '--checkpoint', checkpoint, '--operator', 'user1']);
      expect(elsewhere.code).toBe(2);
      expect(elsewhere.stderr).toContain('was written by exports to file, this run exports to splunk');
      expect(hec.hec.ids.unique).toBe(0);
    } finally {
      await hec.server.close();
    }
  });

  it.each([
    ['nanoseconds', '2026-01-01T00:00:00.1234567Z'],
    ['no zone', '2026-01-01T00:00:00'],
    ['not a date', '2026-02-30T00:00:00Z'],
  ])('a timestamp that cannot be represented exactly (%s): export and prune exit 2', async (_name, timestamp) => {
    const checkpoint = file('bad-time');
    await writeFile(checkpoint, JSON.stringify({
      version: 2, timestamp, id: '1', updated_at: '2026-01-01T00:00:00Z', destination: 'file', filters: {}, late_commit_guard: 'open-transactions',
    }));
    await expectRefused(checkpoint, '"timestamp" must be an ISO 8601 time with a zone and at most microsecond precision');
    const exported = await exportTo(checkpoint);
    expect(exported.code).toBe(2);
    expect(oneLine(exported)).toHaveLength(1);
  });
});

describe('prune --only-exported with a trusted checkpoint', () => {
  it('deletes exactly the entries the export confirmed that are before the cutoff', async () => {
    // Batches of 10, one at a time; the third request is answered 503 for a minute and given up after 1 s: the
    // run stops with the first 20 entries confirmed and checkpointed.
    const { server, hec } = await FakeHec.start({ token: TOKEN, stallRequest: 3, stallMs: 60_000 });
    const checkpoint = file('trusted');
    try {
      const exported = await cli(['export', '--hec-url', server.url, '--checkpoint', checkpoint, '--batch-size', '10', '--concurrency', '1', '--max-retry-time', '1s']);
      expect(exported.code, exported.stderr).toBe(1);
    } finally {
      await server.close();
    }
    const sent = [...new Set(hec.ids.ids)];
    expect(sent).toHaveLength(20);
    const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { late_commit_guard: string; filters: object };
    expect(saved).toMatchObject({ late_commit_guard: 'open-transactions', filters: {} });
    const pruned = await prune(checkpoint, '1');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect((JSON.parse(pruned.stdout) as { deleted: number }).deleted).toBe(20);
    const left = (await schema.query<{ id: string }>(`select id::text id from ${schema.table()}`)).rows.map((row) => row.id);
    expect(left).toHaveLength(180);
    for (const id of sent) expect(left).not.toContain(id);
  }, 60_000);
});

// Another role's sessions: needs a server with several sessions and roles.
describe.skipIf(isEmbedded())('a role that cannot see other sessions', () => {
  it('falls back to the settle window, warns once naming the GRANT, records it; prune --only-exported refuses', async () => {
    const role = `h3_reader_${randomBytes(3).toString('hex')}`;
    await schema.query(`create role ${role} login`);
    try {
      await schema.query(`grant usage on schema ${schema.name} to ${role}; grant select on ${schema.table()} to ${role}`);
      const url = new URL(databaseUrl());
      url.username = role;
      const checkpoint = file('hidden');
      // This test's own connection (another role) is in the database, so there is at least one hidden session.
      const exported = await cli(['export', '--out', join(dir, 'hidden.ndjson'), '--checkpoint', checkpoint, '--json'], url.toString());
      expect(exported.code, exported.stderr).toBe(0);
      const warnings = exported.stderr.trim().split('\n');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`fix: GRANT pg_read_all_stats TO ${role}`);
      expect((JSON.parse(exported.stdout) as { late_commit_guard: string }).late_commit_guard).toBe('settle');
      expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ late_commit_guard: 'settle' });
      await expectRefused(checkpoint, 'could see only the --settle window');

      // With the grant the guard is back, but a checkpoint is only as good as the weakest run that advanced it.
      await schema.query(`grant pg_read_all_stats to ${role}`);
      await schema.query(`insert into ${schema.table()} (created_at, operator) values (now() - interval '1 minute', 'later')`);
      const again = await cli(['export', '--out', join(dir, 'hidden.ndjson'), '--checkpoint', checkpoint, '--json'], url.toString());
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).not.toContain('GRANT');
      expect((JSON.parse(again.stdout) as { exported: number; late_commit_guard: string })).toMatchObject({ exported: 1, late_commit_guard: 'open-transactions' });
      expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ late_commit_guard: 'settle' });
      await expectRefused(checkpoint, 'could see only the --settle window');
    } finally {
      await schema.query(`drop owned by ${role}; drop role ${role}`);
    }
  });
});

describe('a checkpoint timestamp with a UTC offset, on a partitioned table', () => {
  it('is compared as an instant: the partition holding an entry after the checkpoint is not dropped whole', async () => {
    const parts = await createTestSchema('only_exp_parts');
    try {
      const t = await createPartitionedTable(parts, [
        ['p_old', `now() - interval '100 days'`, `now() - interval '60 days 1 hour'`],
        ['p_new', `now() - interval '60 days 1 hour'`, `now() + interval '30 days'`],
      ]);
      const insert = async (age: string, operator: string) =>
        ((await parts.query<{ id: string }>(`insert into ${t} (created_at, operator) values (now() - interval '${age}', $1) returning id::text`, [operator])).rows[0] as { id: string }).id;
      await insert('80 days', 'exported');
      const at = await insert('60 days 3 hours', 'checkpoint');
      const after = await insert('60 days 2 hours', 'after-checkpoint');
      const newer = await insert('10 days', 'newer');
      // The checkpoint's instant written at +14:00: as text it sorts after the cutoff, as an instant it is 3 h before.
      const [k] = (await parts.query<{ t: string }>(
        `select to_char((created_at at time zone 'UTC') + interval '14 hours', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+14:00' t from ${t} where id = $1`, [at],
      )).rows;
      const checkpoint = file('offset');
      await writeFile(checkpoint, JSON.stringify({
        version: 2, timestamp: k?.t, id: at, updated_at: '2026-01-01T00:00:00Z', destination: 'file', filters: {}, late_commit_guard: 'open-transactions',
      }));
      const pruned = await cli(['prune', '--retention-days', '60', '--only-exported', checkpoint, '--yes', '--json'], databaseUrl(), t);
      expect(pruned.code, pruned.stderr).toBe(0);
      const summary = JSON.parse(pruned.stdout) as { deleted: number; partitions_dropped: number; only_exported: { timestamp: string } };
      expect(summary.partitions_dropped).toBe(0);
      expect(summary.deleted).toBe(2);
      expect(summary.only_exported.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      const left = (await parts.query<{ id: string }>(`select id::text id from ${t} order by id`)).rows.map((row) => row.id);
      expect(left).toEqual([after, newer]);
    } finally {
      await parts.drop();
    }
  });
});

describe('the checkpoint file through the binary', () => {
  it('removes the temporary files killed runs left beside it (only those), and replaces a symlink\'s target, 0600', async () => {
    const home = join(dir, `files-${randomBytes(3).toString('hex')}`);
    const state = join(home, 'state');
    await mkdir(state, { recursive: true });
    const target = join(state, 'hec.json');
    const link = join(home, 'link.json');
    await symlink(target, link);
    const stale = ['.hec.json.0123456789ab.tmp', '.hec.json.a1b2c3d4e5f6.tmp'];
    const foreign = ['.hec.json.tmp', '.other.json.0123456789ab.tmp', 'notes.txt'];
    for (const name of [...stale, ...foreign]) await writeFile(join(state, name), 'x');
    const exported = await exportTo(link);
    expect(exported.code, exported.stderr).toBe(0);
    expect((await readdir(state)).sort()).toEqual(['hec.json', ...foreign].sort());
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(target);
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(target, 'utf8'))).toMatchObject({ version: 2, late_commit_guard: 'open-transactions' });
  });
});
