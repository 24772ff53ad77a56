import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPartitionedTable, insertRows, isEmbedded, type SeedRow } from '../support/database.js';
import { createCustomLayout } from '../support/custom-layout.js';
import { HOSTILE_OPERATOR, LONG_OPERATOR, UNICODE_OPERATOR } from '../support/fixtures.js';
import { minuteRows, NOT_INTACT, sealFixture, sealWorld } from './attack-seal-fixture.js';

let world: Awaited<ReturnType<typeof sealWorld>>;
beforeAll(async () => {
  world = await sealWorld('atk_seal_c');
});
afterAll(async () => world?.close());

/** Recomputes a seal's hash as docs/decisions/005 shows, with psql and python3: the encoding is the documented one. */
async function recompute(url: string, table: string, record: { to: string; previous_hash: string }): Promise<string> {
  const select = `select json_build_array(id::text, coalesce(to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), created_at::text),
    operator, operation, resource_type, resource_id, resource_name, source_ip::text, source, before::text, after::text)
    from ${table} where created_at < '${record.to}' order by created_at, id`;
  const script = [
    'import hashlib, json, struct, subprocess, sys',
    'rows = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", sys.argv[2], "-c", sys.argv[3]], check=True, capture_output=True).stdout',
    'seal = hashlib.sha256(bytes.fromhex(sys.argv[1]))',
    // psql -A prints one line per row: json_build_array escapes every line break inside the values.
    'for line in rows.decode().split("\\n"):',
    '    if not line: continue',
    '    encoding = b"".join(struct.pack(">i", -1) if v is None else struct.pack(">i", len(v.encode())) + v.encode() for v in json.loads(line))',
    '    seal.update(hashlib.sha256(encoding).digest())',
    'print(seal.hexdigest())',
  ].join('\n');
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script, record.previous_hash, url, select], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => (error ? reject(error) : resolve(stdout.trim())));
  });
}

const nested = (depth: number, leaf: unknown): unknown => (depth === 0 ? leaf : [nested(depth - 1, leaf)]);

describe.skipIf(isEmbedded())('attack seal/verify: hostile content (built binary, real server)', () => {
  it('non-ASCII, line separators, NUL-like escapes, an 8 MB value, 800 levels of nesting, NULLs and -infinity: sealed, recomputed, and each change found', async () => {
    const f = await world.fixture('hostile');
    const hostile: SeedRow[] = [
      { age: '10 minutes', operator: UNICODE_OPERATOR, resource_name: 'line\u2028sep\u2029para\u0085next\ttab\nnewline \\ "q"', before: { s: '\\u0000 and \u2028' } },
      { age: '9 minutes', operator: HOSTILE_OPERATOR, after: { big: 'x'.repeat(8 * 1024 * 1024) } },
      { age: '8 minutes', operator: LONG_OPERATOR, after: nested(800, 'deep') },
      { age: '7 minutes', operator: null, operation: null, resource_type: null, resource_id: null, resource_name: null, source_ip: null, source: null, before: null, after: null },
      { at: '-infinity', operator: 'epoch of nothing', operation: 'update' },
      ...minuteRows(3),
    ];
    const ids = await insertRows(f.schema, hostile);
    const record = await f.sealRecord();
    expect(record.count).toBe(8);
    expect(await recompute(world.database.url, f.table, record)).toBe(record.hash);
    expect((await f.verify()).code).toBe(0);

    const [separators, big, deep, nulls, infinite] = ids as [string, string, string, string, string];
    await f.schema.query(`update ${f.table} set resource_name = replace(resource_name, U&'\\2028', U&'\\2029') where id = $1`, [separators]);
    await f.schema.query(`update ${f.table} set after = jsonb_set(after, '{big}', to_jsonb(overlay(after->>'big' placing 'y' from 4000000 for 1))) where id = $1`, [big]);
    await f.schema.query(`update ${f.table} set after = $2::jsonb where id = $1`, [deep, JSON.stringify(nested(800, 'Deep'))]);
    await f.schema.query(`update ${f.table} set resource_name = '' where id = $1`, [nulls]);
    await f.schema.query(`update ${f.table} set operator = 'someone' where id = $1`, [infinite]);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    const problems = f.problemsOf(report).map((problem) => [problem.kind, problem.id, problem.fields]);
    expect(problems).toEqual(expect.arrayContaining([
      ['modified', separators, ['resource_name']],
      ['modified', big, ['after']],
      ['modified', deep, ['after']],
      ['modified', nulls, ['resource_name']],
      ['modified', infinite, ['operator']],
    ]));
    expect(problems).toHaveLength(5);
    expect(f.problemsOf(report).find((problem) => problem.id === infinite)?.timestamp).toBe('-infinity');
  }, 60_000);

  it('an entry without an id stops the seal with one line naming it, exit 1', async () => {
    const f = await world.fixture('nullid', async (schema) => {
      await schema.query(`create table ${schema.table()} (id bigint, created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text)`);
      await schema.query(`insert into ${schema.table()} values (1, '2026-01-01T00:00:00Z', 'a', 'update', 'route', 'r'), (null, '2026-01-02T00:00:00Z', 'b', 'update', 'route', 'r')`);
      return schema.table();
    });
    const result = await f.seal();
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('error: an entry at 2026-01-02T00:00:00.000000Z has no id (NULL): seal and verify match entries by id; give it one or remove it, then run again\n');
  });

  it('ids with escape sequences, line breaks and bidi overrides: the text reports show them escaped, one line each', async () => {
    const hostileIds = ['evil\u001b]0;pwned\u0007', 'two\nintact: 9 seal ranges', 'rtl\u202eexe.txt', 'sep\u2028arator'];
    const f = await world.fixture('escapes', async (schema) => {
      await schema.query(`create table ${schema.table()} (id text primary key, created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text)`);
      for (const [i, id] of hostileIds.entries()) {
        await schema.query(`insert into ${schema.table()} values ($1, now() - ($2 || ' minutes')::interval, 'op', 'update', 'route', 'r')`, [id, 10 - i]);
      }
      return schema.table();
    });
    const sealed = await f.seal();
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stdout).toContain('evil\\u001b]0;pwned\\u0007');
    await f.schema.query(`update ${f.table} set operator = 'x'`);
    const text = await f.verify();
    expect(text.code).toBe(NOT_INTACT);
    // No raw control (but the newlines ending lines), bidi or line-separator character reaches the terminal.
    expect([...text.stdout].filter((char) => (char < ' ' && char !== '\n') || char === '\u202e' || char === '\u2028')).toEqual([]);
    expect(text.stdout.split('\n').filter((line) => line.includes('modified:')), text.stdout).toHaveLength(4);
    expect(text.stdout).toContain('two\\nintact: 9 seal ranges');
    const { report } = await f.verifyJson();
    expect(f.problemsOf(report).map((problem) => problem.id).sort()).toEqual([...hostileIds].sort());
  });

  it('a custom mapping (text ids, local timestamps, text and json states): sealed and verified through the config file', async () => {
    const { schema, store } = await world.fixture('layout');
    const dir = await createCustomLayout(schema, 12);
    const table = `${schema.name}.audit_events`;
    await schema.query(`update ${table} set old_state = '{"s": "\\\\u0000 \\u00e9",   "raw": 1}' where event_id = 'ev-0003'`);
    await schema.query(`update ${table} set old_state = 'not json {' where event_id = 'ev-0004'`);
    const f = sealFixture(world.database.url, table, store, world.key, schema, ['--config', join(dir, 'api7-audit.yaml')]);
    expect((await f.sealRecord()).count).toBe(12);
    expect((await f.verify()).code).toBe(0);
    await schema.query(`update ${table} set old_state = old_state || ' ' where event_id = 'ev-0003'`);
    await schema.query(`update ${table} set event_time = event_time - interval '1 microsecond' where event_id = 'ev-0005'`);
    await schema.query(`update ${table} set new_state = '{"n": 6, "plugins": {"key-auth": {"key": "k-6"}}}'::json where event_id = 'ev-0006'`);
    await schema.query(`update ${table} set event_id = 'ev-0007 ' where event_id = 'ev-0007'`);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    expect(f.problemsOf(report).map((problem) => [problem.kind, problem.id, problem.fields]).sort()).toEqual([
      ['deleted', 'ev-0007', undefined],
      ['inserted', 'ev-0007 ', undefined],
      ['modified', 'ev-0003', ['before']],
      ['modified', 'ev-0005', ['timestamp']],
      ['modified', 'ev-0006', ['after']],
    ]);
  });

  it('a partitioned table: a row deleted in one partition, a partition detached, a back-dated row in the default one', async () => {
    const f = await world.fixture('partitioned', (schema) => createPartitionedTable(schema, [
      ['p_old', "now() - interval '30 days'", "now() - interval '10 days'"],
      ['p_new', "now() - interval '10 days'", "now() + interval '10 days'"],
      ['p_default', 'default'],
    ]));
    const old = await insertRows(f.schema, minuteRows(4).map((row, i) => ({ ...row, age: `${20 - i} days` })));
    const recent = await insertRows(f.schema, minuteRows(4));
    const ancient = await insertRows(f.schema, minuteRows(2).map((row, i) => ({ ...row, age: `${90 - i} days` })));
    expect((await f.sealRecord()).count).toBe(10);
    expect((await f.verify()).code).toBe(0);
    await f.schema.query(`delete from ${f.table} where id = $1`, [recent[1]]);
    await f.schema.query(`alter table ${f.table} detach partition ${f.schema.name}.p_old`);
    const [forged] = await insertRows(f.schema, [{ age: '89 days', operator: 'mallory', operation: 'login' }]);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    const problems = f.problemsOf(report).map((problem) => `${problem.kind} ${problem.id}`).sort();
    expect(problems).toEqual([...old.map((id) => `deleted ${id}`), `deleted ${recent[1]}`, `inserted ${forged}`].sort());
    expect(ancient).toHaveLength(2);
  });
});
