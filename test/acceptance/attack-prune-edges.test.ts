import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { spawnCli, startCli } from '../support/cli.js';
import { createDefaultTable, databaseUrl, type TestSchema } from '../support/database.js';
import { useScratch } from './attack-prune-fixture.js';
import { waitFor } from '../support/wait.js';

// prune's values at their edges, through the built binary (npm run build first): retention and batch sizes that
// are no such thing, session time zones around a daylight-saving change, the dry run against the real run, and
// Ctrl-C in the middle of an archived run.

const scratch = useScratch('attack-prune-edges');

/** Three entries every 181 minutes over the last 120 days, sharing their timestamp; each DELETE sleeps `slowMs`. */
async function seeded(slowMs = 0): Promise<TestSchema> {
  const schema = await scratch.schema('atk_prune_edge');
  await createDefaultTable(schema);
  const t = schema.table();
  await schema.query(`insert into ${t} (created_at, operator, after)
    select date_trunc('second', now()) - interval '120 days' + (g / 3) * interval '181 min', 'op', jsonb_build_object('g', g, 'token', 'tk-' || g)
    from generate_series(0, 3 * (120 * 24 * 60 / 181)) g`);
  await schema.query(`create table ${schema.name}.snapshot as select id, created_at from ${t}`);
  if (slowMs > 0) {
    await schema.query(`create function ${schema.name}.slow() returns trigger language plpgsql as $$ begin perform pg_sleep(${slowMs / 1000}); return null; end $$`);
    await schema.query(`create trigger slow after delete on ${t} for each statement execute function ${schema.name}.slow()`);
  }
  return schema;
}

const prune = (schema: TestSchema, args: string[], env?: NodeJS.ProcessEnv) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', ...args], { env });
const ids = async (schema: TestSchema, sql: string, values: unknown[] = []) => (await schema.query<{ id: string }>(sql, values)).rows.map((row) => row.id).sort();
const left = (schema: TestSchema) => ids(schema, `select id::text as id from ${schema.table()}`);
/** What the copy taken before says should be left after a prune with this cutoff. */
const expectedLeft = (schema: TestSchema, cutoff: string) => ids(schema, `select id::text as id from ${schema.name}.snapshot where created_at >= $1`, [cutoff]);

describe('prune values that are no such thing', () => {
  it.each([
    ['--retention-days', '0'],
    ['--retention-days', '-30'],
    ['--retention-days', '1y'],
    ['--retention-days', '36501'],
    ['--retention-days', '30.5'],
    ['--batch-size', '0'],
    ['--batch-size', '100001'],
    ['--batch-size', '-1'],
    ['--max-duration', '-1m'],
  ])('%s %s: exit 2, one line naming it, nothing deleted', async (flag, value) => {
    const schema = await seeded();
    const before = (await left(schema)).length;
    const result = await prune(schema, [flag, value, '--yes']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`'${value}'`);
    expect(result.stdout).toBe('');
    expect((await left(schema)).length).toBe(before);
  });
});

describe('the cutoff', () => {
  it.each(['America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham'])(
    'is N × 24 h before now in UTC whatever the session time zone (%s, across its DST change): exactly what is before it goes',
    async (zone) => {
      const schema = await seeded();
      // 40 days back crosses a daylight-saving change in each of these zones (November, or October/April south).
      const started = Date.now();
      const result = await prune(schema, ['--retention-days', '40', '--yes', '--json'], { PGTZ: zone, TZ: zone });
      const ended = Date.now();
      expect(result.code, result.stderr).toBe(0);
      const summary = JSON.parse(result.stdout) as { cutoff: string; deleted: number };
      const cutoff = Date.parse(summary.cutoff);
      // The database clock is this machine's: the cutoff is within the run's wall-clock time, 40 days back.
      expect(cutoff).toBeGreaterThanOrEqual(started - 40 * 86_400_000 - 1000);
      expect(cutoff).toBeLessThanOrEqual(ended - 40 * 86_400_000 + 1000);
      expect(await left(schema)).toEqual(await expectedLeft(schema, summary.cutoff));
    },
  );
});

describe('--dry-run against the real run, at every batch size', () => {
  it.each(['1', '2', '100000', 'auto'])('--batch-size %s deletes exactly what the dry run counted, ties at one timestamp included', async (size) => {
    const schema = await seeded();
    const sizing = size === 'auto' ? [] : ['--batch-size', size];
    // 45 days back is 57 minutes from the next timestamp of the grid: the dry run's cutoff and the real run's, a
    // moment later, have the same entries before them.
    const dry = JSON.parse((await prune(schema, ['--retention-days', '45', '--dry-run', '--json'])).stdout) as { matched: number; cutoff: string };
    const real = await prune(schema, ['--retention-days', '45', '--yes', '--json', ...sizing]);
    expect(real.code, real.stderr).toBe(0);
    const summary = JSON.parse(real.stdout) as { matched: number; deleted: number; batches: number; cutoff: string; complete: boolean };
    expect(summary).toMatchObject({ matched: dry.matched, deleted: dry.matched, complete: true });
    expect(await left(schema)).toEqual(await expectedLeft(schema, summary.cutoff));
    expect(await left(schema)).toEqual(await expectedLeft(schema, dry.cutoff));
    if (size === '1') expect(summary.batches).toBe(dry.matched);
    if (size === '2') expect(summary.batches).toBe(Math.ceil(dry.matched / 2));
  });
});

describe('Ctrl-C in the middle of an archived run', () => {
  it('finishes the batch, prints the summary, exits 130; the gzip archive holds exactly the entries deleted', async () => {
    const schema = await seeded(30);
    const archive = join(scratch.dir(), `${schema.name}.ndjson.gz`);
    const all = (await left(schema)).length;
    const run = startCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--yes', '--json', '--batch-size', '25', '--archive', archive]);
    await waitFor(async () => (await left(schema)).length < all - 100, 30_000, 'some batches deleted');
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/^error: interrupted: deleted \d+ of \d+ entries; the rest is intact, run again to continue\n$/);
    const summary = JSON.parse(result.stdout) as { deleted: number; archived: number; stopped: string; complete: boolean; cutoff: string };
    expect(summary).toMatchObject({ stopped: 'interrupted', complete: false });
    expect(summary.deleted % 25).toBe(0);
    expect(summary.archived).toBe(summary.deleted);
    const remaining = new Set(await left(schema));
    const archived = gunzipSync(await readFile(archive)).toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { id: string; after: { token: string } });
    expect(archived).toHaveLength(summary.deleted);
    expect(archived.filter((entry) => remaining.has(entry.id))).toEqual([]);
    expect(archived.every((entry) => entry.after.token === '******')).toBe(true);
    expect(remaining.size).toBe(all - summary.deleted);
    const before = await ids(schema, `select id::text as id from ${schema.name}.snapshot where created_at < $1`, [summary.cutoff]);
    expect(new Set(archived.map((entry) => entry.id))).toEqual(new Set(before.filter((id) => !remaining.has(id))));
  });
});
