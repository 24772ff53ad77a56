import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestSchema } from './database.js';

/**
 * A layout unlike the default: other names, a timestamp without time zone (read as UTC), text ids and IPs, text and
 * json state, and no resource_name or source column. Creates `audit_events` with `rows` entries (one a minute, with
 * an SSL private key in half of the `before` states and a key-auth key in every `after`), and a directory holding an
 * api7-audit.yaml that maps it; run the CLI with `--config` naming that file (or with that directory as cwd and
 * `--config api7-audit.yaml`).
 */
export async function createCustomLayout(schema: TestSchema, rows: number, spacing = 'minutes'): Promise<string> {
  await schema.query(`create table ${schema.name}.audit_events (
    event_id text primary key, event_time timestamp not null, actor text, action text, target_kind text,
    target_id text, client_ip text, old_state text, new_state json)`);
  await schema.query(`insert into ${schema.name}.audit_events
    select 'ev-' || lpad(i::text, 4, '0'), (now() at time zone 'UTC') - (i || ' ${spacing}')::interval,
      (array['alice', 'bob', 'svc'])[1 + i % 3], (array['create', 'UPDATE', 'delete'])[1 + i % 3],
      (array['route', 'ssl'])[1 + i % 2], 'id-' || (i % 5),
      (array['10.0.0.1', '2001:db8::7', 'not-an-ip', null])[1 + i % 4],
      case when i % 4 < 2 then '{"cert": "c", "key": "-----BEGIN PRIVATE KEY-----", "note": "quote \\" ü"}' end,
      json_build_object('n', i, 'plugins', json_build_object('key-auth', json_build_object('key', 'k-' || i)))
    from generate_series(1, ${rows}) i`);
  const dir = await mkdtemp(join(tmpdir(), 'api7-audit-layout-'));
  await writeFile(
    join(dir, 'api7-audit.yaml'),
    `table: ${schema.name}.audit_events
columns: { id: event_id, timestamp: event_time, operator: actor, operation: action, resource_type: target_kind,
           resource_id: target_id, source_ip: client_ip, before: old_state, after: new_state }
`,
  );
  return dir;
}
