import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';

// The binary's history runs a timeline without filters on the default layout with statements Kysely compiled at
// build time, and loads no Kysely (docs/decisions/007). Filters take Kysely's builders: the same entries must come
// out either way, across pages (1,000 entries each), for a name, and for a history starting with a LOGIN.

let schema: TestSchema;
let dir: string;
const ENTRIES = 2_345;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-h47-history-'));
  schema = await createTestSchema('acc_h47_history');
  await createDefaultTable(schema);
  const rows: SeedRow[] = [];
  for (let i = 0; i < ENTRIES; i += 1) {
    // Equal times in pairs, so that pages also break ties by id.
    const age = `${ENTRIES - i - (i % 2)} minutes`;
    const state = (n: number) => ({ id: 'r-many', name: 'many', revision: n, plugins: { 'key-auth': { key: `secret-${n}` } } });
    rows.push({ age, operator: 'alice', operation: i === 0 ? 'CREATE' : 'UPDATE', resource_type: 'route', resource_id: 'r-many', resource_name: 'billing-webhook', before: i === 0 ? null : state(i - 1), after: state(i) });
  }
  rows.push({ age: '30 minutes', operator: 'bob', operation: 'LOGIN', resource_type: 'user', resource_id: 'u1' });
  rows.push({ age: '20 minutes', operator: 'bob', operation: 'UPDATE', resource_type: 'user', resource_id: 'u1', before: { role: 'viewer' }, after: { role: 'admin' } });
  await insertRows(schema, rows);
  await writeFile(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.API7_TEST_LOADED, url + '\\n');
  return next(url, context);
}\n`);
  await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
}, 120_000);
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

let runs = 0;

/** history through the binary, with the files it loaded; `kysely`: whether one of them holds Kysely's query builder. */
async function history(...args: string[]) {
  const loaded = join(dir, `loaded-${(runs += 1)}.txt`);
  await writeFile(loaded, '');
  const env = { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}`, API7_TEST_LOADED: loaded };
  const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'history', ...args], { env });
  const files = (await readFile(loaded, 'utf8')).split('\n').filter((url) => url.includes('/dist/'));
  const texts = await Promise.all(files.map((url) => readFile(new URL(url), 'utf8')));
  return { ...result, kysely: texts.some((text) => text.includes('SelectQueryBuilderImpl')) };
}

const ids = (ndjson: string) => ndjson.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);

describe('history: precompiled statements and Kysely give the same timeline', () => {
  it.each(['asc', 'desc'])('across pages (%s), without loading Kysely', async (order) => {
    const [fast, built] = await Promise.all([
      history('route:r-many', '--order', order, '--output', 'ndjson'),
      history('route:r-many', '--order', order, '--output', 'ndjson', '--since', '1000d'),
    ]);
    expect(fast.code, fast.stderr).toBe(0);
    expect(built.code, built.stderr).toBe(0);
    expect(ids(fast.stdout)).toHaveLength(ENTRIES);
    const expected = (await schema.query<{ id: string }>(`select id::text from ${schema.table()} where resource_id = 'r-many' order by created_at ${order}, id ${order}`)).rows.map((row) => row.id);
    expect(ids(fast.stdout)).toEqual(expected);
    expect(fast.stdout).toBe(built.stdout);
    expect(fast.stdout).not.toContain('secret-1');
    expect([fast.kysely, built.kysely]).toEqual([false, true]);
  }, 120_000);

  it('for a name, and for a history whose first entry is a LOGIN', async () => {
    for (const resource of ['route:billing-webhook', 'user:u1']) {
      const [fast, built] = await Promise.all([history(resource, '--output', 'ndjson'), history(resource, '--output', 'ndjson', '--since', '1000d')]);
      expect(fast.code, fast.stderr).toBe(0);
      expect([fast.stdout, fast.stderr]).toEqual([built.stdout, built.stderr]);
      expect(fast.kysely).toBe(false);
    }
    const login = await history('user:u1', '--output', 'ndjson');
    expect(login.stderr).toMatch(/history of user:u1 is incomplete/);
    const named = await history('route:billing-webhook');
    expect(named.stderr).toMatch(/route:billing-webhook is the name of route:r-many/);
  }, 120_000);

  it('a missing table is one line naming the tables that look like an audit log, as list says it', async () => {
    const argv = (command: string[]) => ['--db', databaseUrl(), '--table', `${schema.name}.nothing_here`, ...command];
    const [history, list] = await Promise.all([spawnCli(argv(['history', 'route:r-many', '--output', 'ndjson'])), spawnCli(argv(['list']))]);
    expect(history.code).toBe(1);
    expect(history.stderr).toMatch(/^error: table '.*nothing_here' not found; tables that look like an audit log: .*audit_logs.*\n$/);
    expect(history.stderr).toBe(list.stderr);
  });

  it('an unknown resource is one line and exit 1, as with Kysely', async () => {
    const result = await history('route:nothing', '--output', 'ndjson');
    expect([result.code, result.stderr.trim().split('\n')]).toEqual([1, ['error: no audit entries for route:nothing']]);
    expect(result.kysely).toBe(false);
  });
});
