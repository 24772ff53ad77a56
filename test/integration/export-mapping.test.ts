import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/entry.js';
import { runCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

let schema: TestSchema;
let dir: string;

// Export builds each entry's JSON on the server from the same field expressions list uses: on a layout unlike the
// default (a timestamp without time zone, text ids and IPs, text and json state, columns missing), both must
// produce the same canonical entries.
beforeAll(async () => {
  schema = await createTestSchema('exportmap');
  await schema.query(`create table ${schema.name}.audit_events (
    event_id text primary key, event_time timestamp not null, actor text, action text, target_kind text,
    target_id text, client_ip text, old_state text, new_state json)`);
  await schema.query(`insert into ${schema.name}.audit_events
    select 'ev-' || lpad(i::text, 4, '0'), (now() at time zone 'UTC') - (i || ' minutes')::interval,
      (array['alice', 'bob', 'svc'])[1 + i % 3], (array['create', 'UPDATE', 'delete'])[1 + i % 3],
      (array['route', 'ssl'])[1 + i % 2], 'id-' || (i % 5),
      (array['10.0.0.1', '2001:db8::7', 'not-an-ip', null])[1 + i % 4],
      case when i % 4 < 2 then '{"cert": "c", "key": "-----BEGIN PRIVATE KEY-----", "note": "quote \\" ü"}' end,
      json_build_object('n', i, 'plugins', json_build_object('key-auth', json_build_object('key', 'k-' || i)))
    from generate_series(1, 2500) i`);
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-export-mapping-'));
  await writeFile(
    join(dir, 'api7-audit.yaml'),
    `table: ${schema.name}.audit_events
columns: { id: event_id, timestamp: event_time, operator: actor, operation: action, resource_type: target_kind,
           resource_id: target_id, source_ip: client_ip, before: old_state, after: new_state }
`,
  );
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

const lines = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);

describe('export on a custom mapping', () => {
  it('ships the entries list prints, oldest first, secrets masked, across pages', async () => {
    const listed = await runCli(['--db', databaseUrl(), 'list', '--all', '--order', 'asc', '-o', 'ndjson'], { cwd: dir });
    expect(listed.stderr).toBe('');
    const out = join(dir, 'out.ndjson');
    const exported = await runCli(['--db', databaseUrl(), 'export', '--settle', '0', '--out', out, '--json'], { cwd: dir });
    expect(exported.stderr).toBe('');
    expect(JSON.parse(exported.stdout)).toMatchObject({ exported: 2500 });
    const text = await readFile(out, 'utf8');
    expect(text).not.toMatch(/BEGIN PRIVATE KEY|"k-\d+"/);
    const entries = lines(text);
    expect(entries).toEqual(lines(listed.stdout));
    expect(entries[0]).toMatchObject({ id: 'ev-2500', resource_name: null, source: null });
    expect(entries.map((e) => e.timestamp)).toEqual([...entries.map((e) => e.timestamp)].sort());
  });
});
