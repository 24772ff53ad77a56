import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

/** A --demo start takes 4 s of CPU, minutes on a loaded 2-core machine: longer than spawnCli's default 60 s. */
const DEMO = { timeoutMs: 200_000 };
let schema: TestSchema;
const SECRET = 'k3y-auth-s3cret-value';
const ROTATED = 'r0tated-s3cret-value';

const route = (uri: string, key: string, extra: Record<string, unknown> = {}) => ({ id: 'r1', uri, plugins: { 'key-auth': { key } }, ...extra });

beforeAll(async () => {
  schema = await createTestSchema('history');
  await createDefaultTable(schema);
  await insertRows(schema, [
    { at: '2026-01-01T10:00:00Z', operator: 'alice', operation: 'CREATE', resource_type: 'route', resource_id: 'r1', resource_name: 'checkout', source_ip: '10.0.0.1', after: route('/a', SECRET) },
    { at: '2026-01-02T10:00:00Z', operator: 'bob', operation: 'UPDATE', resource_type: 'route', resource_id: 'r1', resource_name: 'checkout', source_ip: '10.0.0.2', before: route('/a', SECRET), after: route('/b', SECRET) },
    // Same timestamp as the next one: ties are in id order.
    { at: '2026-01-03T10:00:00Z', operator: 'carol', operation: 'UPDATE', resource_type: 'route', resource_id: 'r1', resource_name: 'checkout', before: route('/b', SECRET), after: route('/b', ROTATED) },
    { at: '2026-01-03T10:00:00Z', operator: 'carol', operation: 'UPDATE', resource_type: 'route', resource_id: 'r1', resource_name: 'checkout', before: route('/b', ROTATED), after: route('/b', ROTATED, { desc: 'x' }) },
    { at: '2026-01-04T10:00:00Z', operator: 'dave', operation: 'DELETE', resource_type: 'route', resource_id: 'r1', resource_name: 'checkout', before: route('/b', ROTATED, { desc: 'x' }) },
    // Another resource with the same id, and one whose first entry is an UPDATE (older ones pruned).
    { at: '2026-01-02T12:00:00Z', operator: 'erin', operation: 'CREATE', resource_type: 'service', resource_id: 'r1', after: { id: 'r1' } },
    { at: '2026-01-05T10:00:00Z', operator: 'erin', operation: 'UPDATE', resource_type: 'route', resource_id: 'r2', before: { uri: '/old' }, after: { uri: '/new' } },
  ]);
});
afterAll(async () => {
  await schema?.drop();
});

const history = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'history', ...args]);
const lines = (text: string) => text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

describe('history TYPE:ID (built binary, real server)', () => {
  it('lists exactly the entries of that resource in (time, id) order, each with what it changed, secrets masked', async () => {
    const result = await history('route:r1', '--output', 'ndjson');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const truth = await schema.query<{ id: string }>(
      `select id::text from ${schema.table()} where resource_type = 'route' and resource_id = 'r1' order by created_at, id`,
    );
    const entries = lines(result.stdout);
    expect(entries.map((entry) => entry.id)).toEqual(truth.rows.map((row) => row.id));
    expect(entries[1]?.changes).toEqual([{ path: '$.uri', before: '/a', after: '/b' }]);
    // The rotation is invisible once masked, yet listed as a change of a secret.
    expect(entries[2]?.changes).toEqual([{ path: '$.plugins["key-auth"].key', before: '******', after: '******' }]);
    expect(result.stdout).not.toContain(SECRET);
    expect(result.stdout).not.toContain(ROTATED);
    expect((await history('route:r1', '--output', 'ndjson', '--order', 'desc')).stdout.trim().split('\n').map((line) => JSON.parse(line).id)).toEqual(
      truth.rows.map((row) => row.id).reverse(),
    );
  });

  it('the table shows each change under its entry; the filters narrow it', async () => {
    const result = await history('route:r1', '--operator', 'bob');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/bob\s+UPDATE\s+10\.0\.0\.2/);
    expect(result.stdout).toContain('~ $.uri: "/a" -> "/b"');
    expect(result.stdout).not.toContain('alice');
  });

  it('--at reconstructs the state from the last entry at or before the time: created, changed, deleted, not yet there', async () => {
    const at = async (time: string) => {
      const result = await history('route:r1', '--at', time);
      expect(result.code).toBe(0);
      return JSON.parse(result.stdout) as { exists: boolean; known: boolean; state: Record<string, unknown> | null; entry: { id: string } | null };
    };
    const truth = async (time: string) =>
      (await schema.query<{ id: string; after: Record<string, unknown> | null }>(
        `select id::text, after from ${schema.table()} where resource_type = 'route' and resource_id = 'r1' and created_at <= $1 order by created_at desc, id desc limit 1`,
        [time],
      )).rows[0];
    const mid = await at('2026-01-02T18:00:00Z');
    const expected = await truth('2026-01-02T18:00:00Z');
    expect(mid.entry?.id).toBe(expected?.id);
    expect(mid.state).toEqual({ ...expected?.after, plugins: { 'key-auth': { key: '******' } } });
    expect(mid.exists).toBe(true);
    const tie = await at('2026-01-03T10:00:00Z');
    expect(tie.entry?.id).toBe((await truth('2026-01-03T10:00:00Z'))?.id);
    expect(tie.state).toHaveProperty('desc', 'x');
    expect(await at('2026-01-04T10:00:00Z')).toMatchObject({ exists: false, known: true, state: null });
    expect(await at('2025-12-31')).toMatchObject({ exists: false, known: true, state: null, entry: null });
  });

  it('--between and --diff give one diff of two states', async () => {
    const between = await history('route:r1', '--between', '2026-01-01T12:00:00Z', '2026-01-03T12:00:00Z', '--output', 'json');
    expect(between.code).toBe(0);
    const parsed = JSON.parse(between.stdout) as { changes: { path: string }[] };
    expect(parsed.changes.map((change) => change.path)).toEqual(['$.desc', '$.plugins["key-auth"].key', '$.uri']);
    const diff = await history('route:r1', '--diff', '2026-01-01T12:00:00Z..2026-01-03T12:00:00Z', '--output', 'json');
    expect(JSON.parse(diff.stdout)).toEqual(parsed);
    const text = await history('route:r1', '--diff', '2026-01-01T12:00:00Z..2026-01-03T12:00:00Z');
    expect(text.stdout).toContain('-  "uri": "/a"');
    expect(text.stdout).toContain('+  "uri": "/b"');
    expect(text.stdout).not.toContain(SECRET);
  });

  it('says when the history is incomplete instead of presenting a partial state as the whole', async () => {
    const timeline = await history('route:r2', '--output', 'json');
    expect(timeline.code).toBe(0);
    expect(timeline.stderr).toMatch(/^warning: the history of route:r2 is incomplete: .*earlier entries were pruned/);
    expect(JSON.parse(timeline.stdout)).toMatchObject({ history_complete: false });
    const before = JSON.parse((await history('route:r2', '--at', '2026-01-01')).stdout);
    expect(before).toMatchObject({ known: false, exists: false, history_complete: false });
    expect(JSON.parse((await history('route:r1', '--output', 'json')).stdout)).toMatchObject({ history_complete: true });
  });

  it('a name stands for its id; bad input is exit 2 and an unknown resource exit 1, one line each', async () => {
    const named = await history('route:checkout', '--output', 'ndjson');
    expect(named.code).toBe(0);
    expect(named.stderr).toContain('route:checkout is the name of route:r1');
    expect(lines(named.stdout)).toHaveLength(5);
    for (const args of [['route'], ['route:r1', '--at', 'yesterday'], ['route:r1', '--between', '1d'], ['route:r1', '--diff', '1d'], ['route:r1', '--at', '1d', '--diff', '2d..1d']]) {
      const result = await history(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const missing = await history(`route:nope'; drop table x; --`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: no audit entries for route:nope'; drop table x; --\n`);
  });
});

describe('history on the demo', () => {
  it('agrees with list on the same resource', async () => {
    const [timeline, listed] = await Promise.all([
      spawnCli(['--demo', 'history', 'route:c0618158', '--output', 'ndjson'], DEMO),
      spawnCli(['--demo', 'list', '--resource', 'route:c0618158', '--order', 'asc', '--all', '--output', 'ndjson'], DEMO),
    ]);
    expect(timeline.code).toBe(0);
    expect(listed.code).toBe(0);
    const ids = lines(timeline.stdout).map((entry) => entry.id);
    expect(ids.length).toBeGreaterThan(3);
    expect(ids).toEqual(lines(listed.stdout).map((entry) => entry.id));
    expect(lines(timeline.stdout)[0]).toMatchObject({ operation: 'CREATE' });
  }, 240_000);
});
