import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

// H44 mutation audit (docs/decisions/008-mutation-audit.md): the cutoff's own edge, which no other test reaches. On a
// timestamptz column an entry exactly at the cutoff's microsecond cannot be placed, but on a whole-second epoch column
// the first second after the cutoff is one row away: a prune comparing `<=` deleted it, and every prune test passed.

let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-h44-prune-'));
  schema = await createTestSchema('acc_h44_prune');
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const COLUMNS = 'operator text, operation text, resource_type text, resource_id text, source_ip inet, before jsonb, after jsonb';
const RETENTION_DAYS = 30;

describe('prune at its cutoff, on an integer epoch column', () => {
  it('deletes every entry before the cutoff and none at or after it, the first whole second after it included', async () => {
    const table = schema.table('epoch_edge');
    await schema.query(`create table ${table} (id bigint primary key, ts bigint not null, ${COLUMNS})`);
    // One entry a second from 20 s before to 40 s after "now - 30 days": the run's cutoff falls between two of them.
    await schema.query(
      `insert into ${table} (id, ts, operator, operation)
       select g + 100, floor(extract(epoch from now()))::bigint - ${RETENTION_DAYS} * 86400 + g, 'op', 'update' from generate_series(-20, 40) g`,
    );
    const config = join(dir, 'epoch.yaml');
    await writeFile(config, `table: ${table}\ncolumns:\n  timestamp: { column: ts, epoch: seconds }\n`, { mode: 0o600 });
    const result = await spawnCli(['--db', databaseUrl(), '--config', config, 'prune', '--retention-days', String(RETENTION_DAYS), '--yes', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { cutoff: string; deleted: number; complete: boolean };
    const cutoffSeconds = Date.parse(summary.cutoff) / 1000;
    // A cutoff on a whole second is one run in a million; the edge this test is for needs a fraction.
    expect(Number.isInteger(cutoffSeconds)).toBe(false);
    const left = (await schema.query<{ ts: string }>(`select ts::text as ts from ${table} order by ts`)).rows.map((row) => Number(row.ts));
    const firstAfter = Math.ceil(cutoffSeconds);
    expect(left[0], `cutoff ${summary.cutoff}: the first entry left`).toBe(firstAfter);
    expect(left.every((ts) => ts > cutoffSeconds)).toBe(true);
    expect(summary.deleted).toBe(61 - left.length);
    expect(summary.complete).toBe(true);
  });
});
