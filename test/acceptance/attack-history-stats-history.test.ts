// Attack on `history TYPE:ID` (issue 17) through the built binary and the real server: what an auditor relies on
// (the state at a time, completeness, one diff) and what a hostile tenant controls (names, ids, values, secrets).
import stringWidth from 'string-width';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';

let schema: TestSchema;

const KEY_1 = 'ka-first-Secret-4411';
const KEY_2 = 'ka-rotated-Secret-9902';
const JWT = 'jwt-hmac-Secret-7733';
const OIDC = 'oidc-client-Secret-5566';
const BEARER = 'Bearer tok-Abc-Secret-1188';
const PASSWORD = 'hunter2-Secret-0099';
const SECRETS = [KEY_1, KEY_2, JWT, OIDC, 'tok-Abc-Secret-1188', PASSWORD];
const HOSTILE_ID = `a:b%_'"\\ü\n~ $.x: 1 -> 2`;
const ESC = '\u001b';

/** 500 levels of objects, a secret at the bottom: deeper than the diff's 200 and the masking walkers' limit. */
function deep(levels: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = { n: value };
  return value;
}

const secretRoute = (key: string, extra: Record<string, unknown> = {}) => ({
  uri: '/pay',
  plugins: {
    'key-auth': { key },
    'jwt-auth': { secret: JWT },
    'openid-connect': { client_id: 'gw', client_secret: OIDC },
    'proxy-rewrite': { headers: { set: { Authorization: BEARER } } },
  },
  ...extra,
});

beforeAll(async () => {
  schema = await createTestSchema('ahs_history');
  await createDefaultTable(schema);
  const rows: SeedRow[] = [
    // A user: CREATE, then LOGIN/LOGOUT (no state at all), then an UPDATE.
    { at: '2026-02-01T00:00:00Z', operator: 'admin', operation: 'CREATE', resource_type: 'user', resource_id: 'u1', after: { username: 'alice', password: PASSWORD } },
    { at: '2026-02-02T00:00:00Z', operator: 'alice', operation: 'LOGIN', resource_type: 'user', resource_id: 'u1' },
    { at: '2026-02-03T00:00:00Z', operator: 'alice', operation: 'LOGOUT', resource_type: 'user', resource_id: 'u1' },
    // A user whose CREATE was pruned: the oldest entries left are a LOGIN, then an UPDATE.
    { at: '2026-02-01T00:00:00Z', operator: 'bob', operation: 'LOGIN', resource_type: 'user', resource_id: 'u2' },
    { at: '2026-02-02T00:00:00Z', operator: 'admin', operation: 'UPDATE', resource_type: 'user', resource_id: 'u2', before: { username: 'bob' }, after: { username: 'bobby' } },
    // A user of whom only LOGINs are left.
    { at: '2026-02-01T00:00:00Z', operator: 'carol', operation: 'LOGIN', resource_type: 'user', resource_id: 'u3' },
    // A route created, deleted, created again; two entries at the same time (id order); an entry exactly at a bound.
    { at: '2026-03-01T00:00:00Z', operator: 'alice', operation: 'CREATE', resource_type: 'route', resource_id: 'r1', after: { uri: '/v1' } },
    { at: '2026-03-02T00:00:00Z', operator: 'alice', operation: 'DELETE', resource_type: 'route', resource_id: 'r1', before: { uri: '/v1' } },
    { at: '2026-03-03T00:00:00Z', operator: 'bob', operation: 'CREATE', resource_type: 'route', resource_id: 'r1', after: { uri: '/v2' } },
    { at: '2026-03-04T00:00:00Z', operator: 'bob', operation: 'UPDATE', resource_type: 'route', resource_id: 'r1', before: { uri: '/v2' }, after: { uri: '/v3' } },
    { at: '2026-03-04T00:00:00Z', operator: 'bob', operation: 'UPDATE', resource_type: 'route', resource_id: 'r1', before: { uri: '/v3' }, after: { uri: '/v4' } },
    // Pruned history, written by a hostile operator: escapes and a newline in operator and operation.
    { at: '2026-04-01T00:00:00Z', operator: `evil${ESC}]0;pwned\u0007\n+++ forged`, operation: `UPDATE${ESC}[2J`, resource_type: 'route', resource_id: 'r2', before: { uri: '/a' }, after: { uri: '/b' } },
    { at: '2026-04-02T00:00:00Z', operator: '张伟', operation: 'UPDATE', resource_type: 'route', resource_id: 'r2', before: { uri: '/b' }, after: { uri: '/c\n~ $.forged: 1 -> 2', 'a.b': { '[0]': 1, 'x"y': 2 }, ls: 'x\u2028~ $.forged2: 1 -> 2' } },
    // Secrets: created, rotated, and a header with a bearer token.
    { at: '2026-05-01T00:00:00Z', operator: 'alice', operation: 'CREATE', resource_type: 'route', resource_id: 'sec', after: secretRoute(KEY_1) },
    { at: '2026-05-02T00:00:00Z', operator: 'alice', operation: 'UPDATE', resource_type: 'route', resource_id: 'sec', before: secretRoute(KEY_1), after: secretRoute(KEY_2) },
    // A DELETE whose writer filled `after` with the state it removed.
    { at: '2026-03-10T00:00:00Z', operator: 'alice', operation: 'CREATE', resource_type: 'route', resource_id: 'rd', after: { uri: '/d' } },
    { at: '2026-03-11T00:00:00Z', operator: 'alice', operation: 'delete', resource_type: 'route', resource_id: 'rd', before: { uri: '/d' }, after: { uri: '/d' } },
    // A hostile id and name.
    { at: '2026-06-01T00:00:00Z', operator: 'x', operation: 'CREATE', resource_type: 'route', resource_id: HOSTILE_ID, resource_name: `n%_'ü`, after: { uri: '/h' } },
    // Array changes at [2] and [10] in an entry that also rotates a secret (the masked path merges and sorts them).
    { at: '2026-06-02T00:00:00Z', operator: 'x', operation: 'UPDATE', resource_type: 'route', resource_id: 'arr', before: { m: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], plugins: { 'key-auth': { key: KEY_1 } } }, after: { m: [0, 1, 9, 3, 4, 5, 6, 7, 8, 9, 99], plugins: { 'key-auth': { key: KEY_2 } } } },
    // Deep and huge.
    { at: '2026-07-01T00:00:00Z', operator: 'x', operation: 'CREATE', resource_type: 'route', resource_id: 'deep', after: { v: deep(500, { password: PASSWORD }) } },
    { at: '2026-07-02T00:00:00Z', operator: 'x', operation: 'UPDATE', resource_type: 'route', resource_id: 'deep', before: { v: deep(500, { password: PASSWORD }) }, after: { v: deep(500, { password: `${PASSWORD}!` }) } },
    { at: '2026-07-03T00:00:00Z', operator: 'x', operation: 'CREATE', resource_type: 'route', resource_id: 'huge', after: { desc: 'é'.repeat(2_500_000), uri: '/huge' } },
  ];
  await insertRows(schema, rows);
  // A LOGIN whose states are JSON nulls rather than SQL NULLs, as some writers store "no state".
  await schema.query(`insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, before, after) values ('2026-02-04T00:00:00Z', 'alice', 'LOGIN', 'user', 'u1', 'null'::jsonb, 'null'::jsonb)`);
});
afterAll(async () => {
  await schema?.drop();
});

const history = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'history', ...args]);
const json = async (...args: string[]) => {
  const result = await history(...args);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
};

describe('history: the state at a time', () => {
  it('a LOGIN or LOGOUT (no state) is not a deletion: the state stays what the last change made it', async () => {
    const afterLogin = await json('user:u1', '--at', '2026-02-02T12:00:00Z');
    expect(afterLogin).toMatchObject({ known: true, exists: true, history_complete: true, state: { username: 'alice', password: '******' } });
    expect((afterLogin.entry as { operation: string }).operation).toBe('CREATE');
    expect(await json('user:u1', '--at', '2026-02-05')).toMatchObject({ exists: true, state: { username: 'alice' } });
    const between = await json('user:u1', '--between', '2026-02-01T12:00:00Z', '2026-02-03T12:00:00Z', '--output', 'json');
    expect(between.changes).toEqual([]);
  });

  it('a history whose oldest entries hold no state (LOGIN) is incomplete when the first state is an UPDATE, or when there is none', async () => {
    const u2 = await history('user:u2', '--output', 'json');
    expect(u2.stderr).toMatch(/^warning: the history of user:u2 is incomplete/);
    expect(JSON.parse(u2.stdout)).toMatchObject({ history_complete: false });
    expect(await json('user:u2', '--at', '2026-02-01T12:00:00Z')).toMatchObject({ known: false, history_complete: false });
    const u3 = await history('user:u3', '--at', '2026-03-01');
    expect(u3.stderr).toMatch(/incomplete: none of its entries holds a state/);
    expect(JSON.parse(u3.stdout)).toMatchObject({ known: false, history_complete: false, entry: null });
  });

  it('DELETE then CREATE again; an entry exactly at T counts; equal times go in id order', async () => {
    const truth = async (time: string) =>
      (await schema.query<{ id: string }>(`select id::text from ${schema.table()} where resource_id = 'r1' and created_at <= $1 order by created_at desc, id desc limit 1`, [time])).rows[0]?.id;
    const exactlyAtDelete = await json('route:r1', '--at', '2026-03-02T00:00:00Z');
    expect(exactlyAtDelete).toMatchObject({ known: true, exists: false, state: null });
    expect((exactlyAtDelete.entry as { id: string }).id).toBe(await truth('2026-03-02T00:00:00Z'));
    expect(await json('route:r1', '--at', '2026-03-03T00:00:00Z')).toMatchObject({ exists: true, state: { uri: '/v2' } });
    const tie = await json('route:r1', '--at', '2026-03-04T00:00:00Z');
    expect(tie).toMatchObject({ exists: true, state: { uri: '/v4' } });
    expect((tie.entry as { id: string }).id).toBe(await truth('2026-03-04T00:00:00Z'));
    expect(await json('route:rd', '--at', '2026-03-12')).toMatchObject({ known: true, exists: false, state: null });
    // --output ndjson is one line for the one object of --at and --between too.
    for (const args of [['--at', '2026-03-04'], ['--diff', '2026-03-01..2026-03-05']]) {
      const ndjson = await history('route:r1', ...args, '--output', 'ndjson');
      expect(ndjson.stdout.split('\n'), args.join(' ')).toHaveLength(2);
      expect(JSON.parse(ndjson.stdout), args.join(' ')).toEqual(await json('route:r1', ...args, '--output', 'json'));
    }
    // Just before the bound: the microsecond matters.
    expect(await json('route:r1', '--at', '2026-03-03T23:59:59.999999Z')).toMatchObject({ state: { uri: '/v2' } });
  });

  it('--between with an unknown side gives no diff rather than showing the other side as created', async () => {
    const parsed = await json('route:r2', '--between', '2026-03-01', '2026-05-01', '--output', 'json');
    expect(parsed).toMatchObject({ history_complete: false, from: { known: false }, to: { known: true, exists: true }, changes: null });
    const text = await history('route:r2', '--diff', '2026-03-01..2026-05-01');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('(no diff: the state at 2026-03-01T00:00:00.000000Z is unknown');
    expect(text.stdout).not.toMatch(/^\+\{/m);
  });
});

describe('history: what a hostile tenant writes', () => {
  it('operator and operation cannot reach the terminal raw, nor forge a line, in the timeline, the --between header or the notice', async () => {
    for (const args of [['route:r2'], ['route:r2', '--between', '2026-04-01T12:00:00Z', '2026-05-01'], ['route:r2', '--at', '2026-05-01']]) {
      const result = await history(...args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout + result.stderr, args.join(' ')).not.toContain(ESC);
      expect(result.stdout, args.join(' ')).not.toMatch(/^\+\+\+ forged/m);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    const timeline = (await history('route:r2')).stdout;
    // A value holding a newline stays on its change line; keys with . [ " are bracketed, so no path reads as another.
    expect(timeline).not.toMatch(/^\s*~ \$\.forged/m);
    expect(timeline).toContain('~ $.uri: "/b" -> "/c\\n~ $.forged: 1 -> 2"');
    expect(timeline).toContain('+ $["a.b"]: {"[0]":1,"x\\"y":2}');
    // U+2028 ends a line for some viewers of a saved output: escaped like a newline, in the timeline and the diff.
    expect(timeline).toContain('+ $.ls: "x\\u2028~ $.forged2: 1 -> 2"');
    const diff = await history('route:r2', '--diff', '2026-04-01T12:00:00Z..2026-05-01');
    for (const text of [timeline, diff.stdout]) expect(text).not.toMatch(/[\u2028\u2029]/);
  });

  it('timeline columns line up by display width with a CJK operator', async () => {
    const lines = (await history('route:r2')).stdout.split('\n').filter((line) => /^\d{4}-/.test(line));
    const column = (line: string) => stringWidth(line.slice(0, line.indexOf('UPDATE')));
    expect(lines).toHaveLength(2);
    expect(column(lines[0] ?? '')).toBe(column(lines[1] ?? ''));
  });

  it('ids and names with quotes, %, _, :, a backslash, non-ASCII and a newline are matched exactly', async () => {
    const byId = await history(`route:${HOSTILE_ID}`, '--output', 'ndjson');
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout.trim().split('\n').map((line) => JSON.parse(line).resource_id)).toEqual([HOSTILE_ID]);
    // `%` and `_` are not patterns: a near miss finds nothing.
    expect((await history('route:a:b%%')).code).toBe(1);
    const byName = await history(`route:n%_'ü`, '--output', 'ndjson');
    expect(byName.code).toBe(0);
    expect(byName.stderr).not.toContain('\n~');
    expect(byName.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('deep (500 levels) and huge (5 MB) states: the secret at the bottom stays masked, the run ends with exit 0', async () => {
    for (const args of [['route:deep', '--output', 'json'], ['route:deep'], ['route:deep', '--at', '2026-08-01'], ['route:deep', '--diff', '2026-07-01T12:00:00Z..2026-08-01']]) {
      const result = await history(...args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).not.toContain(PASSWORD);
    }
    const huge = await history('route:huge');
    expect(huge.code).toBe(0);
    const line = huge.stdout.split('\n').find((text) => text.includes('+ $:')) ?? '';
    expect(line.length).toBeLessThan(100);
  });
});

describe('history: secrets', () => {
  it('a rotated key-auth key, jwt-auth secret, openid-connect client_secret and a bearer header stay masked in every output', async () => {
    // One at a time: the embedded test server (PGlite behind a multiplexer) can lose a catalog lookup when six
    // clients start together ("table ... not found"); the real server does not.
    const outputs = [];
    for (const args of [
      [],
      ['--output', 'json'],
      ['--output', 'ndjson'],
      ['--at', '2026-06-01'],
      ['--between', '2026-05-01T12:00:00Z', '2026-06-01'],
      ['--between', '2026-04-01', '2026-06-01', '--output', 'json'],
    ]) {
      outputs.push(await history('route:sec', ...args));
    }
    for (const result of outputs) {
      expect(result.code, result.stderr).toBe(0);
      for (const secret of SECRETS) expect(result.stdout).not.toContain(secret);
    }
    const table = outputs[0]?.stdout ?? '';
    expect(table).toContain('~ $.plugins["key-auth"].key: "******" -> "******"');
    // The unified diff of two masked states is empty for a rotation alone: it must still say a secret changed.
    expect(outputs[4]?.stdout).toContain('(a secret changed, values masked (--show-secrets shows them): $.plugins["key-auth"].key)');
    expect(outputs[4]?.stdout).not.toContain('(no changes)');
    const rotation = JSON.parse(outputs[1]?.stdout ?? '{}').entries[1].changes;
    expect(rotation).toEqual([{ path: '$.plugins["key-auth"].key', before: '******', after: '******' }]);
    const arr = await history('route:arr', '--output', 'ndjson');
    expect(JSON.parse(arr.stdout).changes.map((change: { path: string }) => change.path)).toEqual(['$.m[2]', '$.m[10]', '$.plugins["key-auth"].key']);
    const shown = await history('route:sec', '--output', 'json', '--show-secrets');
    for (const secret of SECRETS.filter((s) => s !== PASSWORD)) expect(shown.stdout).toContain(secret);
  });
});
