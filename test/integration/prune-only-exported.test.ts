import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

let schema: TestSchema;
let dir: string;

// 200 entries, one a day for 200 days (each an hour past its day): 141 are older than a 60-day retention, 51 older
// than 150 days.
beforeAll(async () => {
  schema = await createTestSchema('only_exported');
  await createDefaultTable(schema);
  await schema.query(`insert into ${schema.table()} (created_at, operator, operation)
    select now() - make_interval(days => i, hours => 1), 'op', 'UPDATE' from generate_series(1, 200) i`);
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-only-exported-'));
});
afterAll(() => schema.drop());

const count = async (condition = 'true') =>
  Number((await schema.query<{ n: string }>(`select count(*) n from ${schema.table()} where ${condition}`)).rows[0]?.n);
const cli = (...args: string[]) => runCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { cwd: dir });

describe('export, then prune --only-exported', () => {
  it('never deletes an entry the export has not confirmed', async () => {
    const checkpoint = join(dir, 'cp.json');
    // Export only the entries older than 150 days: the checkpoint stops there.
    const exported = await cli('export', '--out', join(dir, 'out.ndjson'), '--until', '150d', '--checkpoint', checkpoint, '--json');
    expect(exported.code).toBe(0);
    const last = (JSON.parse(exported.stdout) as { last: { id: string } }).last;
    const before = await count();
    const pruned = await cli('prune', '--retention-days', '60', '--only-exported', checkpoint, '--yes', '--json');
    expect(pruned.code).toBe(0);
    const summary = JSON.parse(pruned.stdout) as { deleted: number; only_exported: { id: string } };
    expect(summary.only_exported.id).toBe(last.id);
    // Everything exported went (older than 150 days); the unexported entries between 60 and 150 days stayed.
    expect(summary.deleted).toBe(51);
    expect(await count()).toBe(before - 51);
    expect(await count(`created_at < now() - interval '150 days'`)).toBe(0);
    expect(await count(`created_at < now() - interval '60 days'`)).toBe(90);

    // Export the rest; now the retention bound is the tighter one.
    await cli('export', '--out', join(dir, 'out.ndjson'), '--checkpoint', checkpoint, '--settle', '0');
    const again = await cli('prune', '--retention-days', '60', '--only-exported', checkpoint, '--yes', '--json');
    expect((JSON.parse(again.stdout) as { deleted: number }).deleted).toBe(90);
    expect(await count()).toBe(59);
  });

  it('a missing or malformed checkpoint is a usage error and deletes nothing', async () => {
    const before = await count();
    const missing = await cli('prune', '--retention-days', '1', '--only-exported', join(dir, 'nope.json'), '--yes');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--only-exported');
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"timestamp": 5}');
    const malformed = await cli('prune', '--retention-days', '1', '--only-exported', bad, '--yes');
    expect(malformed.code).toBe(2);
    expect(await count()).toBe(before);
  });
});
