import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnCli, startCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';

/** `show` on entries far beyond any gateway config: each must finish (the timeout is generous: no timing asserted). */
const TIMEOUT_MS = 120_000;
const ELEMENTS = 100_000;
const DEPTH = 5_000;
// Several spawns per test, each allowed TIMEOUT_MS: the file's own limit, not the suite's 30 s.
vi.setConfig({ testTimeout: 5 * TIMEOUT_MS });

let schema: TestSchema;
const show = (argv: string[]): Promise<CliResult> =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'show', ...argv], { timeoutMs: TIMEOUT_MS });

beforeAll(async () => {
  schema = await createTestSchema('showlarge');
  await createDefaultTable(schema);
  const insert = (id: number, before: string, after: string) =>
    schema.query(
      `insert into ${schema.table()} (id, created_at, operator, operation, resource_type, resource_id, before, after)
       values ($1, now(), 'alice', 'UPDATE', 'route', 'r-${id}', (${before})::jsonb, (${after})::jsonb)`,
      [id],
    );
  // 1: every seventh of 100,000 numbers changed, and 1,000 inserted near the end (the array's length changes too).
  await insert(
    1,
    `jsonb_build_object('items', (select jsonb_agg(i order by i) from generate_series(0, ${ELEMENTS - 1}) i))`,
    `jsonb_build_object('items', (select jsonb_agg(v order by o) from (
       select i as o, case when i % 7 = 0 then i + 1 else i end as v from generate_series(0, ${ELEMENTS - 1}) i
       union all select ${ELEMENTS - 5000} + i + 0.5, -i from generate_series(1, 1000) i) s))`,
  );
  // 2: 100,000 users renamed (visible changes) whose passwords were all rotated (changes that masking hides).
  await insert(
    2,
    `jsonb_build_object('users', (select jsonb_agg(jsonb_build_object('name', 'u' || i, 'password', 'old-pw-' || i) order by i) from generate_series(0, ${ELEMENTS - 1}) i))`,
    `jsonb_build_object('users', (select jsonb_agg(jsonb_build_object('name', 'user-' || i, 'password', 'new-pw-' || i) order by i) from generate_series(0, ${ELEMENTS - 1}) i))`,
  );
  // 3: objects nested 5,000 levels deep, the leaf changed; 4: arrays nested as deep, one side growing by a level.
  await insert(3, `repeat('{"a":', ${DEPTH}) || '1' || repeat('}', ${DEPTH})`, `repeat('{"a":', ${DEPTH}) || '2' || repeat('}', ${DEPTH})`);
  await insert(4, `repeat('[', ${DEPTH}) || '"x"' || repeat(']', ${DEPTH})`, `repeat('[', ${DEPTH + 1}) || '"y"' || repeat(']', ${DEPTH + 1})`);
}, TIMEOUT_MS);
afterAll(async () => {
  await schema?.drop();
});

/** Exit 0, nothing on stderr, and the header of entry `id` on stdout. */
function expectShown(result: CliResult, id: number): void {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(new RegExp(`^ID: +${id}\\n`));
}

interface ShowJsonOutput {
  id: string;
  changes: { path: string; before?: unknown; after?: unknown }[];
}

describe('show of a 100,000-element array changed at many places', () => {
  it('prints a diff cut at 2,000 changed lines, saying how many there are and where to see them all', async () => {
    const result = await show(['1']);
    expectShown(result, 1);
    const lines = result.stdout.trimEnd().split('\n');
    const changed = lines.filter((line) => /^[-+] /.test(line));
    expect(changed).toHaveLength(2000);
    expect(changed.slice(0, 4)).toEqual(['-    0,', '+    1,', '-    7,', '+    8,']);
    expect(lines.at(-1)).toMatch(/^\(diff cut at 2000 of \d+ changed lines; use --output json for every change\)$/);
    const total = Number(/of (\d+) changed/.exec(lines.at(-1) ?? '')?.[1]);
    expect(total).toBeGreaterThan(2 * Math.floor(ELEMENTS / 7));
  });

  it('lists every change with --output json', async () => {
    const result = await show(['1', '--output', 'json']);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as ShowJsonOutput;
    expect(parsed.id).toBe('1');
    const byPath = new Map(parsed.changes.map((change) => [change.path, change]));
    // Every seventh element changed in place, 1,000 added at the end (array elements have no identity).
    expect(byPath.get('$.items[0]')).toEqual({ path: '$.items[0]', before: 0, after: 1 });
    expect(byPath.get('$.items[7]')).toEqual({ path: '$.items[7]', before: 7, after: 8 });
    expect(byPath.has('$.items[8]')).toBe(false);
    expect(byPath.get(`$.items[${ELEMENTS + 999}]`)).toEqual({ path: `$.items[${ELEMENTS + 999}]`, after: ELEMENTS - 1 });
    expect(parsed.changes.length).toBeGreaterThan(Math.floor(ELEMENTS / 7) + 1000);
  });
});

describe('show of 100,000 renamed users with rotated passwords', () => {
  it('lists the first 100 hidden secrets and counts the rest, never printing a password', async () => {
    const result = await show(['2']);
    expectShown(result, 2);
    expect(result.stdout).toContain('\n-      "name": "u0",\n+      "name": "user-0",\n');
    expect(result.stdout).toMatch(/\n\(diff cut at 2000 of 200000 changed lines; use --output json for every change\)\n/);
    const listing = result.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(listing).toMatch(/^Secrets changed \(values hidden\): \$\.users\[0\]\.password, \$\.users\[1\]\.password, /);
    expect(listing).toMatch(/, and 99900 more \(use --output json for every change\)$/);
    expect(result.stdout).not.toMatch(/old-pw|new-pw/);
  });

  it('lists all 200,000 changes with --output json, the passwords masked', async () => {
    const result = await show(['2', '--output', 'json']);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/old-pw|new-pw/);
    const parsed = JSON.parse(result.stdout) as ShowJsonOutput;
    expect(parsed.changes).toHaveLength(2 * ELEMENTS);
    expect(parsed.changes).toContainEqual({ path: `$.users[${ELEMENTS - 1}].name`, before: `u${ELEMENTS - 1}`, after: `user-${ELEMENTS - 1}` });
    expect(parsed.changes).toContainEqual({ path: `$.users[${ELEMENTS - 1}].password`, before: '******', after: '******' });
  });
});

describe('show of values nested 5,000 levels deep', () => {
  const deepPath = (levels: number, step: string) => `$${step.repeat(levels)}`;

  it('prints the entry (text and json, masked and with --show-secrets) instead of overflowing the stack', async () => {
    for (const id of [3, 4]) {
      const text = await show([String(id)]);
      expectShown(text, id);
      const json = await show([String(id), '--output', 'json']);
      expect(json.stderr).toBe('');
      expect(json.code).toBe(0);
      expect((JSON.parse(json.stdout) as ShowJsonOutput).changes.length).toBeGreaterThan(0);
    }
    // With secrets shown, the diff reaches the changed leaf 5,000 levels down.
    const text = await show(['3', '--show-secrets']);
    expectShown(text, 3);
    expect(text.stdout).toMatch(/\n- +"a": 1\n\+ +"a": 2\n/);
    const json = await show(['3', '--output', 'json', '--show-secrets']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as ShowJsonOutput;
    // Below 200 levels a changed subtree is one change, printed whole.
    expect(parsed.changes.map((change) => change.path)).toEqual([deepPath(201, '.a')]);
    expect(json.stdout).toContain('"a": 1');
    expect(json.stdout).toContain('"a": 2');
    const arrays = await show(['4', '--show-secrets']);
    expectShown(arrays, 4);
    expect(arrays.stdout).toMatch(/\n- +"x"\n/);
    expect(arrays.stdout).toMatch(/\n\+ +"y"\n/);
  });
});

describe('show interrupted', () => {
  /** Backends of the binary now (an ended run's backend may linger for a moment). */
  async function toolBackends(): Promise<number[]> {
    const { rows } = await schema.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = 'api7-audit'`);
    return rows.map((row) => row.pid);
  }

  /**
   * Whether a new backend of the binary has sent its query on this file's schema (others' tests run binaries too).
   * pg_stat_activity keeps a statement's first 1 KB (track_activity_query_size): show's entry statement names the
   * table past that, so a statement cut there (none other of show's is that long) counts too.
   */
  async function queried(known: number[]): Promise<boolean> {
    const { rows } = await schema.query(
      `select 1 from pg_stat_activity where application_name = 'api7-audit' and pid <> all($2::int[])
         and (position($1 in query) > 0 or octet_length(query) >= (select setting::int - 1 from pg_settings where name = 'track_activity_query_size'))`,
      [schema.name, known],
    );
    return rows.length > 0;
  }

  it('ends at once with exit 130 on SIGINT or SIGTERM, printing nothing on stdout', async () => {
    // A bigger entry than above, so that the show is still at work when the signal comes.
    await schema.query(
      `insert into ${schema.table()} (id, created_at, operator, operation, before, after)
       select 9, now(), 'alice', 'UPDATE', jsonb_build_object('items', jsonb_agg(i order by i)), jsonb_build_object('items', jsonb_agg(-i order by i))
       from generate_series(0, 299999) i`,
    );
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const known = isEmbedded() ? [] : await toolBackends();
      // A signal that killed the process (not handled) would read as 128, never 130.
      const run = startCli(['--db', databaseUrl(), '--table', schema.table(), 'show', '9'], { timeoutMs: TIMEOUT_MS });
      // Once the entry's query was sent, the show has a second or more of work left. The embedded server has no
      // pg_stat_activity to watch, so there the signal simply comes after 300 ms.
      if (isEmbedded()) await sleep(300);
      else for (let tries = 0; tries < 1000 && !(await queried(known)); tries++) await sleep(10);
      run.child.kill(signal);
      const outcome = await run.result;
      expect(outcome.code).toBe(130);
      expect(outcome.stderr).toMatch(/^[^\n]*interrupted[^\n]*\n$/);
      expect(outcome.stdout.length).toBe(0);
    }
  });
});
