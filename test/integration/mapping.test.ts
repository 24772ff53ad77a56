import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { withDatabase } from '../../src/db/connect.js';
import { withReadOnly } from '../../src/db/read-only.js';
import { sql } from 'kysely';
import { runCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { createCustomLayout } from '../support/custom-layout.js';

let schema: TestSchema;
let configDir: string;

// The custom layout (test/support/custom-layout.ts): one entry an hour for 120 hours.
beforeAll(async () => {
  schema = await createTestSchema('mapping');
  configDir = await createCustomLayout(schema, 120, 'hours');
});
afterAll(() => schema.drop());

async function listMapped(args: string[]): Promise<AuditEntry[]> {
  // The layout's config file, named relative to its directory (the working directory is never searched).
  const result = await runCli(['--config', 'api7-audit.yaml', '--db', databaseUrl(), 'list', '--all', '-o', 'ndjson', ...args], { cwd: configDir });
  expect(result.stderr).toBe('');
  return result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);
}

async function expected(condition: string): Promise<string[]> {
  const result = await schema.query<{ event_id: string }>(
    `select event_id from ${schema.name}.audit_events where ${condition} order by event_time desc, event_id desc`,
  );
  return result.rows.map((row) => row.event_id);
}

describe('a custom table mapped by the config file', () => {
  it.each([
    ['no filter', [], 'true'],
    ['--since 24h', ['--since', '24h'], `event_time >= (now() - interval '24 hours') at time zone 'UTC'`],
    ['--operator', ['--operator', 'bob'], `actor = 'bob'`],
    ['--operation', ['--operation', 'DELETE'], `lower(action) = 'delete'`],
    ['--resource', ['--resource', 'ssl:id-2'], `target_kind = 'ssl' and target_id = 'id-2'`],
    ['--ip CIDR on a text column', ['--ip', '2001:db8::/32'], `client_ip = '2001:db8::7'`],
    ['--ip exact on a text column', ['--ip', '10.0.0.1'], `client_ip = '10.0.0.1'`],
  ])('%s', async (_name, args, condition) => {
    expect((await listMapped(args)).map((entry) => entry.id)).toEqual(await expected(condition));
  });

  it('maps every field into the canonical entry, with unmapped fields null and secrets masked', async () => {
    const [entry] = await listMapped(['--resource', 'route:id-2', '--operation', 'create']);
    const row = (
      await schema.query(
        `select *, to_char(event_time, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as iso from ${schema.name}.audit_events where event_id = $1`,
        [entry?.id],
      )
    ).rows[0] as Record<string, unknown>;
    expect(entry).toMatchObject({ operator: row.actor, operation: row.action, resource_type: 'route', resource_id: 'id-2', resource_name: null, source: null });
    expect(entry?.timestamp).toBe(row.iso);
    const ssl = (await listMapped(['--resource', 'ssl'])).find((e) => e.before !== null);
    expect(ssl?.before).toEqual({ cert: 'c', key: '******', note: 'quote " ü' });
  });

  it('a filter on a field with no column is a usage error', async () => {
    const result = await runCli(['--config', 'api7-audit.yaml', '--db', databaseUrl(), 'list', '--source', 'api'], { cwd: configDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no column mapped to source');
  });

  it('shows an entry by its text id', async () => {
    const result = await runCli(['--config', 'api7-audit.yaml', '--db', databaseUrl(), 'show', 'ev-0002', '--json'], { cwd: configDir });
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout) as AuditEntry & { changes: unknown[] };
    expect(shown.id).toBe('ev-0002');
    expect(shown.changes.length).toBeGreaterThan(0);
  });
});

describe('mapping errors', () => {
  it('a missing table names it and lists tables that look like an audit log', async () => {
    const result = await runCli(['--db', databaseUrl(), '--table', `${schema.name}.nope`, 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`table '${schema.name}.nope' not found`);
    expect(result.stderr).toContain(`${schema.name}.audit_events`);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a missing column names the column, the field and the table', async () => {
    const file = join(configDir, 'bad-column.yaml');
    await writeFile(file, `table: ${schema.name}.audit_events\ncolumns: { id: event_id, timestamp: event_time, operator: who }\n`);
    const result = await runCli(['--db', databaseUrl(), '--config', file, 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`column 'who' (for operator) not found in table ${schema.name}.audit_events`);
  });

  it.each([
    ['a quoted name', `x"; drop table t; --`],
    ['a 10 KB name', 'a'.repeat(10_240)],
  ])('a hostile table name is rejected as a usage error: %s', async (_name, table) => {
    const result = await runCli(['--db', databaseUrl(), '--table', table, 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: invalid table '/);
  });

  it('an unknown config key is a usage error naming it', async () => {
    const file = join(configDir, 'typo.yaml');
    await writeFile(file, `tabel: audit_logs\n`);
    const result = await runCli(['--db', databaseUrl(), '--config', file, 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`unknown key 'tabel'`);
  });
});

describe('read-only sessions', () => {
  it('PostgreSQL refuses writes inside withReadOnly', async () => {
    const target = { url: databaseUrl(), libpq: {}, source: '--db' as const };
    await expect(
      withDatabase({ target, connectTimeoutMs: 5000 }, (db) =>
        withReadOnly(db, (trx) => sql`create table ${sql.table(`${schema.name}.sneaky`)} (x int)`.execute(trx)),
      ),
    ).rejects.toThrow(/read-only transaction/);
  });
});
