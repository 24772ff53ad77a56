import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// The busy-day rule's baseline: the 28 days before `--since`, counted in whole UTC days. Its first day was cut at
// the window's hour, so that day counted low and moved the median (a false "busy day"); and on a table whose
// timestamp is an epoch number the rule failed (`bigint - interval`).

const DAY = 86_400_000;
const midnight = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
/** The window starts at noon, ten days ago; the baseline's first day is 28 days before that day. */
const since = new Date(midnight + 12 * 3_600_000).toISOString();
const at = (days: number, hours: number) => new Date(midnight + days * DAY + hours * 3_600_000).toISOString();

// carol: 10 changes on the baseline's first day (06:00, before the window's hour), 1 on two other days, 4 in the
// window: median 2.5 over [10, 1, 1, 4], not busy. Cut at noon, [1, 1, 4] gave a median of 1 and "busy".
// dave: 1 a day on three baseline days, the first of them at 06:00 of the first day, then 5 in the window: busy.
const rows: SeedRow[] = [
  ...Array.from({ length: 10 }, () => ({ at: at(-28, 6), operator: 'carol' })),
  { at: at(-20, 9), operator: 'carol' }, { at: at(-15, 9), operator: 'carol' },
  ...Array.from({ length: 4 }, (_, n) => ({ at: at(2, 10 + n), operator: 'carol' })),
  { at: at(-28, 6), operator: 'dave' }, { at: at(-20, 9), operator: 'dave' }, { at: at(-15, 9), operator: 'dave' },
  ...Array.from({ length: 5 }, (_, n) => ({ at: at(3, 10 + n), operator: 'dave' })),
].map((row) => ({ ...row, operation: 'update', resource_type: 'route', resource_id: 'r1', source_ip: '10.0.0.1' }));
// erin: first seen in the window, from an address nobody used: the two rules that probe the whole table.
rows.push({ at: at(4, 8), operator: 'erin', operation: 'create', resource_type: 'consumer', resource_id: 'c1', source_ip: '192.0.2.44' });
const EXPECTED = {
  first_changes: [{ operator: 'erin', first: `${at(4, 8).slice(0, 19)}.000000Z` }],
  busy_days: [{ operator: 'dave', day: at(3, 0).slice(0, 10), count: 5, median: 1 }],
  new_source_ips: [{ operator: 'erin', ip: '192.0.2.44', first: `${at(4, 8).slice(0, 19)}.000000Z`, count: 1 }],
};

let schema: TestSchema;
let epochConfig: string;
beforeAll(async () => {
  schema = await createTestSchema('stats_baseline');
  await createDefaultTable(schema);
  await insertRows(schema, rows);
  // The same entries in a table keeping its time as epoch milliseconds, mapped by a config file.
  await schema.query(`create table ${schema.name}.epoch_logs as select id, (extract(epoch from created_at) * 1000)::bigint as ts, operator, operation,
    resource_type, resource_id, source_ip, before, after from ${schema.table()}`);
  const dir = await mkdtemp(join(tmpdir(), 'api7-audit-epoch-'));
  epochConfig = join(dir, 'api7-audit.yaml');
  await writeFile(epochConfig, `table: ${schema.name}.epoch_logs
columns: { id: id, timestamp: { column: ts, epoch: milliseconds }, operator: operator, operation: operation,
           resource_type: resource_type, resource_id: resource_id, source_ip: source_ip, before: before, after: after }
`);
});
afterAll(async () => {
  await schema?.drop();
});

const unusual = async (args: string[], output = 'json') => {
  const run = await spawnCli(['--db', databaseUrl(), ...args, 'stats', '--since', since, '--by', 'operator', '--output', output]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return output === 'json' ? (JSON.parse(run.stdout) as { unusual: unknown }).unusual : run.stdout;
};

describe('stats unusual marks on other table layouts (built binary, real server)', () => {
  it('counts the whole first day of the baseline: carol is not busy, dave is', async () => {
    expect(await unusual(['--table', schema.table()])).toEqual(EXPECTED);
  });

  it('gives the same marks on a table whose timestamp is epoch milliseconds (failed, then skipped two rules)', async () => {
    expect(await unusual(['--config', epochConfig])).toEqual(EXPECTED);
  });

  it('says which rules it could not check, rather than "nothing unusual", when the operator is an expression', async () => {
    const config = join(dirname(epochConfig), 'expression.yaml');
    await writeFile(config, `table: ${schema.table()}
columns: { id: id, timestamp: created_at, operator: lower(operator), operation: operation, resource_type: resource_type,
           resource_id: resource_id, source_ip: source_ip, before: before, after: after }
`);
    expect(await unusual(['--config', config])).toEqual({ ...EXPECTED, first_changes: null, new_source_ips: null });
    const text = await unusual(['--config', config], 'table');
    expect(text).toContain('busy day: dave made 5 changes');
    expect(text).toMatch(/not checked: first change ever \(.*expression\)/);
    expect(text).toMatch(/not checked: new source IP/);
  });
});
