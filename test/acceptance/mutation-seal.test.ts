import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows } from '../support/database.js';
import { minuteRows, NOT_INTACT, sealFixture, sealWorld, type SealRecordJson } from './attack-seal-fixture.js';

// H44 mutation audit (docs/decisions/008-mutation-audit.md): with verify's previous_hash check removed, every seal
// test passed. It is what keeps two stores signed by one key (a backup, a second cron) from being mixed: the record
// of one and the next record of the other then skip a range, and an entry deleted in that range went unnoticed.
// And --unsealed-max-age counting `> 1` passed them too: every test left several old entries unsealed, never one.

let world: Awaited<ReturnType<typeof sealWorld>>;
beforeAll(async () => {
  world = await sealWorld('h44_seal');
});
afterAll(async () => {
  await world.close();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('verify and seal records from two stores of one key', () => {
  it('a store mixing seal 1 of one chain with seal 2 of another is not intact: an entry deleted between them would hide', async () => {
    const a = await world.fixture('chain_a');
    const b = sealFixture(world.database.url, a.table, join(world.dir, 'chain_b-store'), world.key, a.schema);
    await mkdir(b.store);
    await insertRows(a.schema, minuteRows(3));
    const a1 = await a.sealRecord('--settle', '0s');
    await pause(20);
    const [hidden] = await insertRows(a.schema, [{ age: '0 seconds', operator: 'mallory', resource_id: 'hidden' }]);
    await pause(20);
    await b.sealRecord('--settle', '0s');
    await pause(20);
    await insertRows(a.schema, [{ age: '0 seconds', operator: 'alice', resource_id: 'later' }]);
    await pause(20);
    await a.sealRecord('--settle', '0s');
    const b2 = await b.sealRecord('--settle', '0s');
    // The hidden entry is in a's seal 2 and b's seal 1, but in neither record of the mixed store.
    expect(a1.to < (b2.from ?? '')).toBe(true);

    const mixed = sealFixture(world.database.url, a.table, join(world.dir, 'mixed-store'), world.key, a.schema);
    await mkdir(mixed.store);
    for (const [store, seq] of [[a.store, 1], [b.store, 2]] as const) {
      const name = `seal-${String(seq).padStart(8, '0')}.json`;
      await copyFile(join(store, name), join(mixed.store, name));
      const record = JSON.parse(await readFile(join(store, name), 'utf8')) as SealRecordJson & { leaves_file: string };
      await copyFile(join(store, record.leaves_file), join(mixed.store, record.leaves_file));
    }
    await a.schema.query(`delete from ${a.table} where id = $1`, [hidden]);

    const { result, report } = await mixed.verifyJson();
    expect(result.code, result.stderr).toBe(NOT_INTACT);
    expect(report.intact).toBe(false);
    expect(mixed.problemsOf(report).map((problem) => problem.kind)).toContain('chain-broken');
  });
});

describe('verify --unsealed-max-age', () => {
  it('one entry older than it and not sealed is enough: exit 4, counted once', async () => {
    const f = await world.fixture('one_unsealed');
    await insertRows(f.schema, minuteRows(2).map((row, i) => ({ ...row, age: `${30 - i * 10} minutes` })));
    await insertRows(f.schema, [{ age: '5 minutes', operator: 'alice', resource_id: 'unsealed' }]);
    expect((await f.sealRecord('--settle', '10m')).count).toBe(2);
    const { result, report } = await f.verifyJson('--unsealed-max-age', '2m');
    expect(result.code, result.stderr).toBe(NOT_INTACT);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'unsealed-too-old', count: 1 })]);
    expect((await f.verify('--unsealed-max-age', '1h')).code).toBe(0);
  });
});
