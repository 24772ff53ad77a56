import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

// A role without SELECT on the audit table (a new monitoring account, a grant forgotten after a restore) is the
// user's setup, not a defect: one line naming the table and what to grant, exit 1, never "run with --debug".

const role = `t_noread_${randomBytes(4).toString('hex')}`;
let schema: TestSchema;
let url: string;
let dir: string;
beforeAll(async () => {
  if (isEmbedded()) return;
  schema = await createTestSchema('permission');
  await createDefaultTable(schema);
  await insertRows(schema, [{ age: '1 day', operator: 'alice', operation: 'update', resource_type: 'route', resource_id: 'r1' }]);
  await schema.query(`create role ${role} login`);
  await schema.query(`grant usage on schema ${schema.name} to ${role}`);
  const target = new URL(databaseUrl());
  target.username = role;
  target.password = '';
  url = target.toString();
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-permission-'));
});
afterAll(async () => {
  if (isEmbedded()) return;
  await schema.drop();
  const admin = await createTestSchema('permission_roles');
  await admin.query(`drop role if exists ${role}`);
  await admin.drop();
});

const COMMANDS = [['list'], ['list', '--output', 'ndjson'], ['show', '1'], ['history', 'route:r1'], ['stats', '--since', '7d'], ['prune', '--dry-run', '--retention-days', '1'],
  ['export', '--out', 'OUT']];

describe.skipIf(isEmbedded())('a role without SELECT on the table (built binary, real server)', () => {
  it.each(COMMANDS.map((args) => [args.join(' '), args]))('%s: one line naming the table and the grant, exit 1, no --debug hint', async (_, args) => {
    const argv = args.map((arg) => (arg === 'OUT' ? join(dir, `${randomBytes(3).toString('hex')}.ndjson`) : arg));
    const result = await spawnCli(['--db', url, '--table', schema.table(), ...argv]);
    expect(result.code).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error:'));
    expect(errors).toEqual([expect.stringMatching(/^error: permission denied for table audit_logs: the role lacks a privilege on it: every command needs SELECT, prune also DELETE/)]);
    expect(result.stderr).not.toContain('--debug');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).toBe('');
  });
});
