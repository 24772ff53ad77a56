import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { insertRows, isEmbedded } from '../support/database.js';
import { minuteRows, sealWorld } from './attack-seal-fixture.js';

// verify --archive reads export's NDJSON as well as prune's archive (built binary). export prints a BC timestamp with
// an expanded year (-000043-... is 44 BC, bc-timestamps.test.ts), a seal's leaf `0044-...Z BC`: the line must still be
// the sealed entry, and an edited one not.

let world: Awaited<ReturnType<typeof sealWorld>>;
beforeAll(async () => {
  world = await sealWorld('bc_time_seal');
});
afterAll(async () => world?.close());

describe.skipIf(isEmbedded())('BC entries sealed, exported, then pruned', () => {
  it('verify --archive EXPORT: each is the sealed entry; an edited line is not', async () => {
    const f = await world.fixture('bc_export');
    const ids = await insertRows(f.schema, [
      { at: '4713-11-24 00:00:00.125+00 BC', operator: 'first' },
      { at: '0044-03-15 10:00:00+00 BC', operator: 'caesar' },
      { at: '0001-06-01 12:00:00+00 BC', operator: 'one bc' },
      { at: '0005-01-01 00:00:00+00', operator: 'ad' },
      ...minuteRows(2),
    ]);
    await f.sealRecord('--settle', '0');
    const exported = join(world.dir, 'bc-export.ndjson');
    const run = await spawnCli([...f.base, 'export', '--out', exported, '--until', '2000-01-01T00:00:00Z']);
    expect(run.code, run.stderr).toBe(0);
    const text = await readFile(exported, 'utf8');
    expect(text).toContain('"timestamp":"-000043-03-15T10:00:00.000000Z"');
    const pruned = await spawnCli([...f.base, 'prune', '--retention-days', '30', '--yes', '--json', '--seal-store', f.store, '--seal-key', world.key]);
    expect(pruned.code, pruned.stderr).toBe(0);
    const clean = await f.verifyJson('--archive', exported);
    expect(f.problemsOf(clean.report)).toEqual([]);
    expect(clean.report.seals[0]).toMatchObject({ status: 'intact', pruned: 4, archived: 4 });
    const edited = join(world.dir, 'bc-export-edited.ndjson');
    await writeFile(edited, text.replace('"caesar"', '"brutus"'));
    const mismatch = await f.verifyJson('--archive', edited);
    expect(f.problemsOf(mismatch.report).map((problem) => [problem.kind, problem.id])).toEqual([['archive-mismatch', ids[1]]]);
  });
});
