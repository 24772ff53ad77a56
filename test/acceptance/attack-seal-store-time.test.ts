import { createHash } from 'node:crypto';
import { chmod, chown, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { insertRows, isEmbedded, type TestSchema } from '../support/database.js';
import { GENESIS_HASH, SealChain } from '../../src/seal/canonical.js';
import { readSigningKey } from '../../src/seal/keys.js';
import { SEAL_FORMAT_V1, signRecord, type SealRecord } from '../../src/seal/record.js';
import { minuteRows, NOT_INTACT, sealFixture, sealWorld } from './attack-seal-fixture.js';

let world: Awaited<ReturnType<typeof sealWorld>>;
beforeAll(async () => {
  world = await sealWorld('atk_seal_st');
});
afterAll(async () => world?.close());

async function modes(store: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(store)) out[name] = ((await stat(join(store, name))).mode & 0o777).toString(8);
  return out;
}

describe.skipIf(isEmbedded())('attack seal/verify: the store is private, ranges split by the printed instant (built binary)', () => {
  it('every store file is 0600 whatever the umask; wider ones of this user are narrowed with a warning, another user\'s refused', async () => {
    const f = await world.fixture('private');
    await insertRows(f.schema, minuteRows(5));
    await f.sealRecord('--settle', '0');
    const first = await modes(f.store);
    // Before: seal-00000001.json and its leaves were 0644, readable by every user of the host.
    expect(Object.keys(first)).toHaveLength(2);
    for (const mode of Object.values(first)) expect(mode).toBe('600');

    const record = join(f.store, 'seal-00000001.json');
    await chmod(record, 0o644);
    await insertRows(f.schema, minuteRows(2));
    const again = await f.seal('--settle', '0');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`warning: --store '${record}' was open to other users (mode 0644); narrowed to 0600`);
    for (const mode of Object.values(await modes(f.store))) expect(mode).toBe('600');

    // A prune record another user left readable: not ours to narrow, so the seal refuses (exit 2, one line).
    const foreign = join(f.store, 'prune-20260101000000-abcdef.json');
    await writeFile(foreign, '{}\n', { mode: 0o644 });
    await chown(foreign, 65534, 65534);
    const refused = await f.seal('--settle', '0');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: --store '.*prune-20260101000000-abcdef\.json' is open to other users \(mode 0644\) and owned by uid 65534/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a float8 epoch just under a seal\'s end that prints as the end: verify says intact', async () => {
    const made = await world.fixture('epoch_round', async (s) => {
      await s.query(`create table ${s.table('epoch_f')} (id bigint primary key, ts float8 not null, operator text, operation text, resource_type text, resource_id text, source_ip inet, before jsonb, after jsonb)`);
      return s.table('epoch_f');
    });
    const config = join(world.dir, 'epoch-round.yaml');
    await writeFile(config, `table: ${made.table}\ncolumns:\n  timestamp: { column: ts, epoch: seconds }\n`);
    const f = sealFixture(world.database.url, made.table, made.store, world.key, made.schema, ['--config', config]);
    const table = made.table;
    // A transaction held open bounds the seal at its start: that is the seal's end, known before the seal runs.
    const holder = new pg.Client({ connectionString: world.database.url, application_name: 'writer' });
    await holder.connect();
    try {
      await holder.query('begin');
      const start = (await holder.query<{ epoch: string }>(`select extract(epoch from now())::text as epoch`)).rows[0]?.epoch as string;
      // id 2 is the float8 nearest below the end that still prints as the end itself (to_timestamp rounds to µs).
      const iso = (v: string) => `to_char(to_timestamp(${v}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
      await f.schema.query(`insert into ${table} (id, ts, operator, operation)
        select 2, v, 'b', 'update' from (select ${start}::float8 - g * 0.0000001 as v from generate_series(1, 4) g) c
        where v < ${start}::float8 and ${iso('v')} = ${iso(`${start}::float8`)} order by v desc limit 1`);
      await f.schema.query(`insert into ${table} (id, ts, operator, operation) values (1, ${start}::float8 - 10, 'a', 'update'), (3, ${start}::float8 - 0.000001, 'c', 'update')`);
      expect((await f.schema.query(`select 1 from ${table} where id = 2`)).rowCount).toBe(1);
      const record = await f.sealRecord('--settle', '0');
      const end = (await f.schema.query<{ iso: string }>(`select to_char(to_timestamp(${start}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as iso`)).rows[0]?.iso;
      expect(record.to).toBe(end);
      await holder.query('commit');
    } finally {
      await holder.end();
    }
    await f.schema.query(`insert into ${table} (id, ts, operator, operation) values (4, extract(epoch from now())::float8, 'd', 'update')`);
    await f.sealRecord('--settle', '0');
    const { result, report } = await f.verifyJson();
    // Before: id 2 was sealed in seal 1 and looked for in seal 2: deleted from one, inserted into the other, exit 4.
    expect(f.problemsOf(report)).toEqual([]);
    expect(result.code, result.stdout).toBe(0);
    expect(report.seals.map((seal) => seal.count)).toEqual([2, 2]);
  });

  it('an entry moved between a BC year and the AD year of the same number is found (timestamptz)', async () => {
    const f = await world.fixture('bc_tz');
    // SQL order (44 BC, 1 BC, 1 AD, 44 AD) is not the text order of their digits: verify must still walk them in step.
    const ids = await insertRows(f.schema, [
      { at: '0044-03-15 10:00:00+00 BC', operator: 'caesar' },
      { at: '0001-06-01 12:00:00+00 BC', operator: 'one bc' },
      { at: '0001-06-01 12:00:00+00', operator: 'one ad' },
      { at: '0044-03-15 10:00:00+00', operator: 'forty-four ad' },
      ...minuteRows(3),
    ]);
    const record = await f.sealRecord('--settle', '0');
    expect(record.count).toBe(7);
    expect((await f.verify()).code).toBe(0);
    await f.schema.query(`update ${f.table} set created_at = '0044-03-15 10:00:00+00' where id = $1`, [ids[0]]);
    await f.schema.query(`update ${f.table} set created_at = '0001-06-01 12:00:00+00' where id = $1`, [ids[1]]);
    const { result, report } = await f.verifyJson();
    // Before: both printed 0044-03-15T... and 0001-06-01T... either side of the era, so verify said intact (exit 0).
    expect(result.code, result.stdout).toBe(NOT_INTACT);
    const problems = f.problemsOf(report).map((problem) => [problem.kind, problem.id, problem.fields]);
    expect(problems).toEqual(expect.arrayContaining([['modified', ids[1], ['timestamp']]]));
    expect(problems).toHaveLength(2);
    expect(problems.map((problem) => problem[1]).sort()).toEqual([ids[0], ids[1]].sort());
  });

  it('a negative epoch moved to the AD year of the same number is found (epoch seconds)', async () => {
    const made = await world.fixture('bc_epoch', async (s) => {
      await s.query(`create table ${s.table('epoch_i')} (id bigint primary key, ts bigint not null, operator text, operation text, resource_type text, resource_id text, source_ip inet, before jsonb, after jsonb)`);
      await s.query(`insert into ${s.table('epoch_i')} (id, ts, operator, operation) values
        (1, extract(epoch from timestamptz '0002-01-01 00:00:00+00 BC'), 'two bc', 'update'),
        (2, extract(epoch from timestamptz '0002-01-01 00:00:00+00'), 'two ad', 'update'),
        (3, extract(epoch from now()) - 60, 'now', 'update')`);
      return s.table('epoch_i');
    });
    const config = join(world.dir, 'bc-epoch.yaml');
    await writeFile(config, `table: ${made.table}\ncolumns:\n  timestamp: { column: ts, epoch: seconds }\n`);
    const f = sealFixture(world.database.url, made.table, made.store, world.key, made.schema, ['--config', config]);
    expect((await f.sealRecord('--settle', '0')).count).toBe(3);
    expect((await f.verify()).code).toBe(0);
    await f.schema.query(`update ${made.table} set ts = extract(epoch from timestamptz '0002-01-01 00:00:00+00') where id = 1`);
    const { result, report } = await f.verifyJson();
    expect(result.code, result.stdout).toBe(NOT_INTACT);
    expect(f.problemsOf(report).map((problem) => [problem.kind, problem.id, problem.fields])).toEqual([['modified', '1', ['timestamp']]]);
  });

  it('BC entries pruned into an archive are checked against it: intact, and an edited one is not the sealed entry', async () => {
    const f = await world.fixture('bc_archive');
    const ids = await insertRows(f.schema, [{ at: '0044-03-15 10:00:00+00 BC', operator: 'caesar' }, { at: '0001-06-01 12:00:00+00 BC', operator: 'one bc' }, ...minuteRows(2)]);
    await f.sealRecord('--settle', '0');
    const archive = join(world.dir, 'bc-archive.ndjson');
    const pruned = await spawnCli([...f.base, 'prune', '--retention-days', '30', '--yes', '--json', '--seal-store', f.store, '--seal-key', world.key, '--archive', archive, '--show-secrets']);
    expect(pruned.code, pruned.stderr).toBe(0);
    const clean = await f.verifyJson('--archive', archive);
    // Before: the archive's timestamps have no era, so both were "not the sealed entry" (exit 4).
    expect(f.problemsOf(clean.report)).toEqual([]);
    expect(clean.report.seals[0]).toMatchObject({ status: 'intact', pruned: 2, archived: 2 });
    const edited = join(world.dir, 'bc-archive-edited.ndjson');
    await writeFile(edited, (await readFile(archive, 'utf8')).replace('"caesar"', '"brutus"'));
    const mismatch = await f.verifyJson('--archive', edited);
    expect(f.problemsOf(mismatch.report).map((problem) => [problem.kind, problem.id])).toEqual([['archive-mismatch', ids[0]]]);
  });

  it('a store whose first seal has the first encoding (api7-audit-seal/1, BC years without the era) still verifies intact', async () => {
    const f = await world.fixture('bc_legacy');
    await insertRows(f.schema, [{ at: '0044-03-15 10:00:00+00 BC', operator: 'caesar' }, { at: '0044-03-15 10:00:00+00', operator: 'ad' }, ...minuteRows(2)]);
    await f.sealRecord('--settle', '0');
    await rewriteAsFirstEncoding(f.store, f.schema, f.table);
    await insertRows(f.schema, [{ operator: 'later' }]);
    expect((await f.sealRecord('--settle', '0')).seq).toBe(2);
    const { result, report } = await f.verifyJson();
    // Read with today's encoding, the BC entry of seal 1 would be modified (its timestamp text gained ` BC`).
    expect(f.problemsOf(report)).toEqual([]);
    expect(result.code, result.stdout).toBe(0);
  });
});

/** Seal 1 of `store` as a release before the era was encoded wrote it: leaves, hash and record (re-signed) in format /1. */
async function rewriteAsFirstEncoding(store: string, schema: TestSchema, table: string): Promise<void> {
  const path = join(store, 'seal-00000001.json');
  const record = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown> & { to: string; leaves_file: string };
  const iso = `coalesce(to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), created_at::text)`;
  const rows = await schema.query<{ v: (string | null)[] }>(`select json_build_array(id::text, ${iso}, operator, operation, resource_type, resource_id,
    resource_name, source_ip::text, source, before::text, after::text) as v from ${table} where created_at < $1 order by created_at, id`, [record.to]);
  const chain = new SealChain(GENESIS_HASH);
  let leaves = '';
  for (const { v } of rows.rows) {
    const pieces = v.map((value) => {
      const bytes = value === null ? Buffer.alloc(0) : Buffer.from(value);
      const length = Buffer.alloc(4);
      length.writeInt32BE(value === null ? -1 : bytes.length);
      return Buffer.concat([length, bytes]);
    });
    const hash = createHash('sha256').update(Buffer.concat(pieces)).digest('hex');
    chain.add(hash);
    leaves += `${JSON.stringify([v[0], v[1], hash, pieces.map((piece) => crc32(piece).toString(16).padStart(8, '0')).join('')])}\n`;
  }
  await unlink(join(store, record.leaves_file));
  const leavesFile = 'seal-00000001-01d0e0.leaves.ndjson';
  await writeFile(join(store, leavesFile), leaves, { mode: 0o600 });
  const { signature: _signature, ...unsigned } = record;
  const rewritten = { ...unsigned, format: SEAL_FORMAT_V1, hash: chain.digest(), leaves_file: leavesFile, leaves_sha256: createHash('sha256').update(leaves).digest('hex') };
  const key = await readSigningKey(world.key);
  await writeFile(path, `${JSON.stringify(signRecord(rewritten as unknown as SealRecord, key), null, 2)}\n`, { mode: 0o600 });
}
