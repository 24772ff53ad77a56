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
    // A filtered export (only entries older than 150 days) proves nothing about the others: refused, nothing deleted.
    const filtered = join(dir, 'filtered.json');
    const exported = await cli('export', '--out', join(dir, 'out.ndjson'), '--until', '150d', '--checkpoint', filtered, '--json');
    expect(exported.code).toBe(0);
    const before = await count();
    const refused = await cli('prune', '--retention-days', '60', '--only-exported', filtered, '--yes', '--json');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('filtered export (--until ');
    expect(await count()).toBe(before);

    // An export of every entry: the retention bound is the tighter one.
    const checkpoint = join(dir, 'cp.json');
    const all = await cli('export', '--out', join(dir, 'out.ndjson'), '--checkpoint', checkpoint, '--settle', '0', '--json');
    const last = (JSON.parse(all.stdout) as { last: { id: string } }).last;
    const pruned = await cli('prune', '--retention-days', '60', '--only-exported', checkpoint, '--yes', '--json');
    expect(pruned.code).toBe(0);
    const summary = JSON.parse(pruned.stdout) as { deleted: number; only_exported: { id: string } };
    expect(summary.only_exported.id).toBe(last.id);
    expect(summary.deleted).toBe(141);
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
