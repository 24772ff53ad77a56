import { chmod, chown, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows, isEmbedded } from '../support/database.js';
import { minuteRows, sealFixture, sealWorld } from './attack-seal-fixture.js';

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
});
