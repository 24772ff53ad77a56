import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

// H44 mutation audit (docs/decisions/008-mutation-audit.md): list's row path (table, csv, --fields, --jq) ordered by
// id alone, and every paging test passed: they page with --output ndjson, which the server's JSON text serves by
// another query, and on tables whose ids mostly follow time. Here the ids run against time, through csv.

let schema: TestSchema;
beforeAll(async () => {
  schema = await createTestSchema('acc_h44_list');
  await createDefaultTable(schema);
  // Ids against time: id 1 is the newest; three ties on one timestamp; 23 entries, more than four pages of 5.
  await schema.query(`insert into ${schema.table()} (id, created_at, operator, operation)
    select g, timestamptz '2026-11-01T00:00:00Z' - ((g * 7) % 23) * interval '1 hour' + case when g in (4, 9, 17) then interval '0' else interval '1 microsecond' * g end, 'op', 'update'
    from generate_series(1, 23) g`);
});
afterAll(async () => {
  await schema.drop();
});

const cli = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list', ...args]);
const csvIds = (stdout: string) => stdout.trim().split(/\r?\n/).slice(1).map((line) => line.replace(/^"|"$/g, ''));
const sqlIds = async (order: 'asc' | 'desc') =>
  (await schema.query<{ id: string }>(`select id::text as id from ${schema.table()} order by created_at ${order}, id ${order}`)).rows.map((row) => row.id);

describe('list --output csv, ids running against time', () => {
  it.each(['asc', 'desc'] as const)('--order %s --all is the SQL order by (timestamp, id)', async (order) => {
    const result = await cli('--all', '--order', order, '--output', 'csv', '--fields', 'id');
    expect(result.code, result.stderr).toBe(0);
    expect(csvIds(result.stdout)).toEqual(await sqlIds(order));
  });

  it.each(['asc', 'desc'] as const)('--order %s in pages of 5 by --cursor: the same entries, each once', async (order) => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = await cli('--limit', '5', '--order', order, '--output', 'csv', '--fields', 'id', ...(cursor === undefined ? [] : ['--cursor', cursor]));
      expect(result.code, result.stderr).toBe(0);
      seen.push(...csvIds(result.stdout));
      cursor = /--cursor (\S+)/.exec(result.stderr)?.[1];
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(await sqlIds(order));
  });
});
