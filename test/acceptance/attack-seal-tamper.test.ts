import { createPrivateKey, sign } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestDatabase, insertRows, isEmbedded } from '../support/database.js';
import { minuteRows, NOT_INTACT, sealFixture, sealWorld, type Problem } from './attack-seal-fixture.js';

let world: Awaited<ReturnType<typeof sealWorld>>;
beforeAll(async () => {
  world = await sealWorld('atk_seal_t');
});
afterAll(async () => world?.close());

const only = (problems: Problem[], id: string) => problems.filter((problem) => problem.id === id);

describe.skipIf(isEmbedded())('attack seal/verify: tampering is found (built binary, real server)', () => {
  it('an UPDATE of any one column, a timestamp moved by 1 us and an id changed are each named; exit 4', async () => {
    const f = await world.fixture('columns');
    const ids = await insertRows(f.schema, minuteRows(16));
    await f.sealRecord();
    const t = f.table;
    const updates: [string, string][] = [
      ['operator', `update ${t} set operator = operator || ' ' where id = $1`],
      ['operation', `update ${t} set operation = upper(operation) where id = $1`],
      ['resource_type', `update ${t} set resource_type = 'service' where id = $1`],
      ['resource_id', `update ${t} set resource_id = 'r-x' where id = $1`],
      ['resource_name', `update ${t} set resource_name = null where id = $1`],
      // The same host with another prefix: the listing's host() would not show it, the seal does.
      ['source_ip', `update ${t} set source_ip = set_masklen(source_ip, 24) where id = $1`],
      ['source', `update ${t} set source = '' where id = $1`],
      ['before', `update ${t} set before = jsonb_set(before, '{plugins,key-auth,key}', '"secret-x"') where id = $1`],
      ['after', `update ${t} set after = after || '{"n": 1}' where id = $1`],
      ['timestamp', `update ${t} set created_at = created_at + interval '1 microsecond' where id = $1`],
    ];
    for (const [i, [, statement]] of updates.entries()) await f.schema.query(statement, [ids[i]]);
    await f.schema.query(`update ${t} set id = 9000 where id = $1`, [ids[12]]);

    const { result, report } = await f.verifyJson();
    expect(result.code, result.stderr).toBe(NOT_INTACT);
    const problems = f.problemsOf(report);
    for (const [i, [field]] of updates.entries()) {
      expect(only(problems, ids[i] as string), field).toEqual([expect.objectContaining({ kind: 'modified', fields: [field] })]);
    }
    expect(only(problems, ids[12] as string)).toEqual([expect.objectContaining({ kind: 'deleted' })]);
    expect(only(problems, '9000')).toEqual([expect.objectContaining({ kind: 'inserted' })]);
    expect(problems).toHaveLength(updates.length + 2);
    // The report names fields, never values: the secret changed in `before` is not in it.
    expect(result.stdout).not.toContain('secret-');
  });

  it('json states: a whitespace-only and a key-order-only change are changes; in jsonb they are the same value', async () => {
    const f = await world.fixture('jsontext', async (schema) => {
      await schema.query(`create table ${schema.table()} (id bigint primary key, created_at timestamptz not null, operator text,
        operation text, resource_type text, resource_id text, before json, after jsonb)`);
      await schema.query(`insert into ${schema.table()} select i, now() - (i || ' minutes')::interval, 'op', 'update', 'route', 'r',
        '{"a": 1, "b": [1, 2]}', '{"a": 1, "b": [1, 2]}' from generate_series(1, 4) i`);
      return schema.table();
    });
    await f.sealRecord();
    await f.schema.query(`update ${f.table} set before = '{"a": 1,  "b": [1, 2]}' where id = 1`);
    await f.schema.query(`update ${f.table} set before = '{"b": [1, 2], "a": 1}' where id = 2`);
    await f.schema.query(`update ${f.table} set after = '{"b": [1,2],   "a": 1}' where id = 3`);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    const problems = f.problemsOf(report);
    expect(problems).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'modified', id: '1', fields: ['before'] }),
      expect.objectContaining({ kind: 'modified', id: '2', fields: ['before'] }),
    ]));
    expect(problems).toHaveLength(2);
  });

  it('a DELETE at the start, in the middle, at the end of a seal and of the newest row sealed: each a deletion with its neighbours', async () => {
    const f = await world.fixture('deletes');
    const ids = await insertRows(f.schema, minuteRows(10));
    await f.sealRecord();
    const late = await insertRows(f.schema, minuteRows(3).map((row) => ({ ...row, age: '0 seconds' })));
    await f.sealRecord('--settle', '0s');
    for (const id of [ids[0], ids[5], ids[9], late[2]]) await f.schema.query(`delete from ${f.table} where id = $1`, [id]);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    const [one, two] = report.seals;
    expect(one?.problems).toEqual([
      expect.objectContaining({ kind: 'deleted', id: ids[0], position: 1, previous: null, next: expect.objectContaining({ id: ids[1] }) }),
      expect.objectContaining({ kind: 'deleted', id: ids[5], position: 6, previous: expect.objectContaining({ id: ids[4] }), next: expect.objectContaining({ id: ids[6] }) }),
      expect.objectContaining({ kind: 'deleted', id: ids[9], position: 10, previous: expect.objectContaining({ id: ids[8] }), next: null }),
    ]);
    expect(two?.problems).toEqual([expect.objectContaining({ kind: 'deleted', id: late[2], position: 3, next: null })]);
    // A row written after the newest seal is not covered yet: its deletion is invisible, and verify says how many are not.
    await insertRows(f.schema, minuteRows(2).map((row) => ({ ...row, age: '0 seconds' })));
    expect((await f.verifyJson()).report.unsealed).toBe(2);
  });

  it('a back-dated INSERT is named as written since with a timestamp inside the range, not as a late commit', async () => {
    const f = await world.fixture('backdated');
    await insertRows(f.schema, minuteRows(5));
    await f.sealRecord();
    const [forged] = await insertRows(f.schema, [{ age: '150 seconds', operator: 'mallory', operation: 'login' }]);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    expect(f.problemsOf(report)).toEqual([expect.objectContaining({ kind: 'inserted', id: forged, late_commit_guard: 'open-transactions' })]);
    const text = await f.verify();
    expect(text.stdout).toMatch(new RegExp(`inserted: id ${forged} \\(.*\\) into the sealed range: .*back-dated.*not a late commit`));
  });

  it('two rows swapped (their contents, or their ids) are both modified', async () => {
    const f = await world.fixture('swapped');
    const ids = await insertRows(f.schema, minuteRows(6));
    await f.sealRecord();
    const [a, b, c, d] = ids as [string, string, string, string];
    // Swap every column but id and timestamp between a and b.
    await f.schema.query(`update ${f.table} x set operator = y.operator, operation = y.operation, resource_id = y.resource_id,
      resource_name = y.resource_name, source_ip = y.source_ip, before = y.before, after = y.after
      from ${f.table} y where (x.id, y.id) in (($1::bigint, $2::bigint), ($2::bigint, $1::bigint))`, [a, b]);
    for (const [from, to] of [[c, '-1'], [d, c], ['-1', d]]) await f.schema.query(`update ${f.table} set id = $2 where id = $1`, [from, to]);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    const problems = f.problemsOf(report);
    for (const id of ids.slice(0, 4)) expect(only(problems, id), `id ${id}`).toEqual([expect.objectContaining({ kind: 'modified' })]);
    expect(only(problems, c)[0]?.fields).toContain('timestamp');
  });

  it('in a table whose ids may repeat, a copy of a sealed entry (exact, or forged beside it) is an insertion, never hidden', async () => {
    const f = await world.fixture('dupes', async (schema) => {
      await schema.query(`create table ${schema.table()} (id bigint not null, created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text, after jsonb)`);
      await schema.query(`create index on ${schema.table()} (created_at, id)`);
      await schema.query(`insert into ${schema.table()} select i, now() - (i || ' minutes')::interval, 'op-' || i, 'update', 'route', 'r', '{"n": 1}' from generate_series(1, 6) i`);
      // Two entries share an id and a timestamp already when sealed: both are sealed and both must be found.
      await schema.query(`insert into ${schema.table()} select id, created_at, 'twin', operation, resource_type, resource_id, after from ${schema.table()} where id = 6`);
      return schema.table();
    });
    expect((await f.sealRecord()).count).toBe(7);
    const clean = await f.verifyJson();
    expect(clean.result.code, clean.result.stdout).toBe(0);
    // An exact copy of entry 2, and a forged entry 4 inserted before the original is deleted and put back behind it.
    await f.schema.query(`insert into ${f.table} select * from ${f.table} where id = 2`);
    await f.schema.query(`create temp table keep as select * from ${f.table} where id = 4`);
    await f.schema.query(`delete from ${f.table} where id = 4`);
    await f.schema.query(`insert into ${f.table} select id, created_at, 'mallory', operation, resource_type, resource_id, after from keep`);
    await f.schema.query(`insert into ${f.table} select * from keep`);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    const problems = f.problemsOf(report);
    expect(problems.map((problem) => [problem.kind, problem.id]).sort()).toEqual([['inserted', '2'], ['inserted', '4']]);
  });
});

describe.skipIf(isEmbedded())('attack seal/verify: the store attacked (built binary, real server)', () => {
  it('a seal file emptied or truncated is unverifiable and the rest is still checked, in text and in --json', async () => {
    const f = await world.fixture('truncated');
    const ids = await insertRows(f.schema, minuteRows(4));
    await f.sealRecord();
    await insertRows(f.schema, minuteRows(2).map((row) => ({ ...row, age: '0 seconds' })));
    await f.sealRecord('--settle', '0s');
    const first = join(f.store, 'seal-00000001.json');
    await writeFile(first, (await readFile(first, 'utf8')).slice(0, 100));
    await f.schema.query(`delete from ${f.table} where id = $1`, [ids[0]]);
    const { result, report } = await f.verifyJson();
    expect(result.code, result.stderr).toBe(NOT_INTACT);
    expect(report.seals.map((seal) => seal.status)).toEqual(['unverifiable', 'intact']);
    expect(report.seals[0]?.problems).toEqual([expect.objectContaining({ kind: 'record-invalid', detail: expect.stringContaining('is not a JSON object') })]);
    await writeFile(join(f.store, 'seal-00000002.json'), '');
    const none = await f.verify();
    expect(none.code).toBe(NOT_INTACT);
    expect(none.stdout).toMatch(/seal 2 \(seal-00000002\.json\): UNVERIFIABLE/);
    expect(none.stdout).toContain('5 entries written after the newest seal are not sealed yet');
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the newest seal files removed: with --unsealed-max-age, entries older than it and not sealed make verify fail', async () => {
    const f = await world.fixture('rolledback');
    await insertRows(f.schema, minuteRows(4).map((row, i) => ({ ...row, age: `${30 - i} minutes` })));
    await insertRows(f.schema, minuteRows(3).map((row, i) => ({ ...row, age: `${5 - i} minutes` })));
    expect((await f.sealRecord('--settle', '10m')).count).toBe(4);
    expect((await f.sealRecord()).count).toBe(3);
    await rm(join(f.store, 'seal-00000002.json'));
    const quiet = await f.verifyJson();
    expect(quiet.result.code, 'without the flag it looks like a seal not run yet').toBe(0);
    expect(quiet.report.unsealed).toBe(3);
    const { result, report } = await f.verifyJson('--unsealed-max-age', '1m');
    expect(result.code).toBe(NOT_INTACT);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'unsealed-too-old', count: 3 })]);
    expect((await f.verify('--unsealed-max-age', '1h')).code).toBe(0);
    const text = await f.verify('--unsealed-max-age', '1m');
    expect(text.stdout).toMatch(/^not sealed in time: 3 entries written more than --unsealed-max-age ago are not sealed \(the oldest at .*\): seal has stopped, or the newest seal files were removed$/m);
  });

  it('a seal made with a different key: seal refuses to chain onto it (one line, exit 1), verify names the key', async () => {
    const f = await world.fixture('otherkey');
    await insertRows(f.schema, minuteRows(3));
    await f.sealRecord();
    const other = join(world.dir, 'other.key');
    expect((await spawnCli(['seal', '--new-key', '--key', other])).code).toBe(0);
    await insertRows(f.schema, minuteRows(2).map((row) => ({ ...row, age: '0 seconds' })));
    const refused = await spawnCli([...f.base, 'seal', '--key', other, '--store', f.store, '--settle', '0s']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: the newest seal in '.*' \(seal-00000001\.json\) is not signed by --key \(key id [0-9a-f]{16}\); refusing to chain onto it: run verify\n$/);
    expect((await readdir(f.store)).filter((name) => name.endsWith('.json'))).toEqual(['seal-00000001.json']);
    const foreign = await spawnCli([...f.base, 'verify', '--public-key', `${other}.pub`, '--store', f.store]);
    expect(foreign.code).toBe(NOT_INTACT);
    expect(foreign.stdout).toMatch(/bad signature: seal-00000001\.json: signed by key [0-9a-f]{16}, not by --public-key/);
  });

  it('a seal file renamed to another number, or a stray huge number, is named at once (no count to it)', async () => {
    const f = await world.fixture('renamed');
    await insertRows(f.schema, minuteRows(3));
    await f.sealRecord();
    await copyFile(join(f.store, 'seal-00000001.json'), join(f.store, 'seal-99999999999.json'));
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    expect(report.seals.map((seal) => [seal.file, seal.status])).toEqual([
      ['seal-00000001.json', 'intact'],
      ['seal-00000002.json to seal-99999999998.json', 'missing'],
      ['seal-99999999999.json', 'unverifiable'],
    ]);
    expect(report.seals[2]?.problems[0]?.detail).toBe('it is seal 1, renamed to seal-99999999999.json');
    const chained = await f.seal();
    expect(chained.code).toBe(1);
    expect(chained.stderr).toMatch(/^error: the newest seal in '.*' \(seal-99999999999\.json\) is seal 1 under another name; refusing to chain onto it: run verify\n$/);
  });

  it('a store from another database, same table name, same key, validly signed, does not verify this one', async () => {
    const f = await world.fixture('prod');
    await insertRows(f.schema, minuteRows(5));
    await f.sealRecord();
    // Staging: another database, a table of the very same schema-qualified name, sealed with the same key.
    const staging = await createTestDatabase('atk_seal_s');
    const client = new pg.Client({ connectionString: staging.url });
    await client.connect();
    try {
      await client.query(`create schema ${f.schema.name}`);
      await client.query(`set search_path to ${f.schema.name}`);
      await client.query(await readFile(new URL('../../examples/schema.sql', import.meta.url), 'utf8'));
      await client.query(`insert into ${f.table} (created_at, operator, operation) select now() - (i || ' minutes')::interval, 'staging', 'update' from generate_series(1, 5) i`);
      const stagingStore = join(world.dir, 'staging-store');
      await mkdir(stagingStore);
      const other = sealFixture(staging.url, f.table, stagingStore, world.key, f.schema);
      await other.sealRecord();
      for (const name of await readdir(f.store)) await rm(join(f.store, name));
      for (const name of await readdir(stagingStore)) await copyFile(join(stagingStore, name), join(f.store, name));
    } finally {
      await client.end();
      await staging.drop();
    }
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    expect(report.seals[0]?.problems.every((problem) => problem.kind === 'modified')).toBe(true);
    expect(report.seals[0]?.problems).toHaveLength(5);
  });
});

/** Signs a record as seal does (Ed25519 over the record without `signature`, keys sorted, no whitespace). */
async function signAsSeal(record: Record<string, unknown>): Promise<Record<string, unknown>> {
  const sorted = JSON.stringify(record, (_, value: unknown) => (value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
    : value));
  const signature = sign(null, Buffer.from(sorted, 'utf8'), createPrivateKey(await readFile(world.key))).toString('base64');
  return { ...record, signature };
}

describe.skipIf(isEmbedded())('attack seal/verify: prune records (built binary, real server)', () => {
  it('a prune bounded by an export checkpoint (up_to) lets go only what it reached: a deletion after the checkpoint is tampering', async () => {
    const f = await world.fixture('upto');
    const ids = await insertRows(f.schema, minuteRows(6).map((row, i) => ({ ...row, age: `${100 - i} days` })));
    const sealed = await f.sealRecord();
    // What prune --only-exported --seal-store does: the checkpoint is entry 3, so entries 4 to 6 stay, older than the cutoff or not.
    const at = await f.schema.query<{ cutoff: string; checkpoint: string }>(`select
      to_char((now() - interval '30 days') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cutoff,
      (select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') from ${f.table} where id = $1) as checkpoint`, [ids[2]]);
    const { cutoff, checkpoint } = at.rows[0] as { cutoff: string; checkpoint: string };
    const keyId = (JSON.parse(await readFile(join(f.store, 'seal-00000001.json'), 'utf8')) as { key_id: string }).key_id;
    const record = await signAsSeal({ format: 'api7-audit-prune/1', table: f.table, cutoff, up_to: { timestamp: checkpoint, id: ids[2] }, pruned_at: new Date().toISOString(), key_id: keyId });
    await writeFile(join(f.store, 'prune-20261204000000-abcdef.json'), JSON.stringify(record));
    await f.schema.query(`delete from ${f.table} where id = any($1::bigint[])`, [ids.slice(0, 3)]);
    const clean = await f.verifyJson();
    expect(clean.result.code, clean.result.stdout).toBe(0);
    expect(clean.report.seals[0]).toMatchObject({ status: 'intact', present: 3 });
    await f.schema.query(`delete from ${f.table} where id = $1`, [ids[4]]);
    const { result, report } = await f.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    expect(f.problemsOf(report)).toEqual([expect.objectContaining({ kind: 'deleted', id: ids[4] })]);
    expect(sealed.count).toBe(6);
  });
});
