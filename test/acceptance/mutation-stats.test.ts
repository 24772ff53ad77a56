import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

// H44 mutation audit (docs/decisions/008-mutation-audit.md): stats' "first change ever" rule comparing `>` with the
// window's start passed every stats and history test: none had an operator's first entry exactly at --since, which
// is inside the window (--since is inclusive).

const SINCE = '2026-11-20T08:00:00.000000Z';
let schema: TestSchema;
beforeAll(async () => {
  schema = await createTestSchema('acc_h44_stats');
  await createDefaultTable(schema);
  await insertRows(schema, [
    { at: SINCE, operator: 'at-start', operation: 'create', resource_type: 'route', source_ip: '10.0.0.1' },
    { at: '2026-11-21T00:00:00Z', operator: 'at-start', operation: 'update', resource_type: 'route', source_ip: '10.0.0.1' },
    { at: '2026-11-20T07:59:59.999999Z', operator: 'just-before', operation: 'create', resource_type: 'route', source_ip: '10.0.0.2' },
    { at: '2026-11-21T00:00:00Z', operator: 'just-before', operation: 'update', resource_type: 'route', source_ip: '10.0.0.2' },
    { at: '2026-11-20T08:00:00.000001Z', operator: 'just-after', operation: 'create', resource_type: 'route', source_ip: '10.0.0.3' },
  ]);
});
afterAll(async () => {
  await schema.drop();
});

describe('stats: a first change ever at the edge of --since', () => {
  it('an operator whose first entry is exactly at --since is new; one a microsecond before is not', async () => {
    const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'stats', '--since', SINCE, '--until', '2026-11-22T00:00:00Z', '--output', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const { unusual } = JSON.parse(result.stdout) as { unusual: { first_changes: { operator: string }[] } };
    expect(unusual.first_changes.map((change) => change.operator).sort()).toEqual(['at-start', 'just-after']);
  });
});
