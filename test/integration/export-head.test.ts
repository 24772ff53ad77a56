import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';

// The export reads one column, the entry's JSON, and takes the id, time and indexed fields from its head. These rows
// make that hard: plain fields that spell the key which ends the head, quotes, backslashes, unicode and nulls, and
// rows with and without secrets (a masked row may be written back in another spacing).
const TOKEN = 'hec-head-token';
const TRICKY = ['a, "before" : b', 'x,"before":{"y', 'quote " backslash \\ end\\', 'Zürich café 東京 😀', ''];
let schema: TestSchema;
let server: FakeServer;
let hec: FakeHec;

beforeAll(async () => {
  schema = await createTestSchema('export_head');
  await createDefaultTable(schema);
  await schema.query(
    `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, resource_name, source_ip, source, before, after)
     select timestamptz '2026-03-04T05:06:07.123456Z' + make_interval(secs => i), t.v, case when i % 2 = 0 then null else 'UPDATE' end,
       case when i % 3 = 0 then 'ssl' else 'route' end, t.v, t.v, case when i % 2 = 0 then null else inet '2001:db8::1' end, t.v,
       jsonb_build_object('note', t.v), case when i % 2 = 0 then jsonb_build_object('key', 'K-' || i, 'cert', 'c', 'note', t.v) else null end
     from unnest($1::text[]) with ordinality as t(v, i)`,
    [TRICKY],
  );
  ({ server, hec } = await FakeHec.start({ token: TOKEN }));
});
afterAll(async () => {
  await server?.close();
  await schema.drop();
});

describe('export: the fields read from the head of each entry', () => {
  it('are the entry’s own values, for HEC’s time and indexed fields, and secrets are still masked', async () => {
    const result = await runCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--settle', '0', '--hec-url', server.url, '--json'], {
      env: { API7_AUDIT_HEC_TOKEN: TOKEN },
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ exported: TRICKY.length });
    expect(hec.events).toHaveLength(TRICKY.length);
    for (const event of hec.events) {
      const entry = event.event as Record<string, string | null>;
      const fields = event.fields as Record<string, string>;
      const expected: Record<string, string> = { audit_id: entry.id as string };
      for (const key of ['operator', 'operation', 'resource_type', 'resource_id', 'source_ip']) if (entry[key] !== null) expected[key] = entry[key] as string;
      if (entry.source !== null) expected.audit_source = entry.source as string;
      expect(fields).toEqual(expected);
      expect(event.time).toBeCloseTo(Date.parse(entry.timestamp as string) / 1000, 3);
    }
    expect(hec.events.map((event) => (event.event as { operator: string }).operator).sort()).toEqual([...TRICKY].sort());
    expect(JSON.stringify(hec.events)).not.toMatch(/"K-\d/);
  });
});
