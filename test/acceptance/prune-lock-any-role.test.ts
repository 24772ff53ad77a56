import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

// The README's Prune section says that any role able to connect can keep prune out by taking its advisory lock, and
// gives the statement. This runs that statement, as printed there, from a role with no privilege on anything.

let schema: TestSchema;
const role = `t_nopriv_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  schema = await createTestSchema('lockanyrole');
  await createDefaultTable(schema);
  await insertRows(schema, [{ age: '40 days' }]);
  if (!isEmbedded()) await schema.query(`create role ${role} login`);
});
afterAll(async () => {
  if (!isEmbedded()) await schema?.query(`drop role if exists ${role}`);
  await schema?.drop();
});

/** The lock statement from the README, for this table. */
async function readmeLockStatement(table: string): Promise<string> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const statement = /`(pg_advisory_lock\(hashtextextended\('api7-audit prune SCHEMA\.TABLE', 0\)\))`/.exec(readme.replace(/\n\s*/g, ' '))?.[1];
  expect(statement, 'the README states the prune lock').toBeDefined();
  return `select ${(statement as string).replace('SCHEMA.TABLE', table)}`;
}

describe('the prune lock', () => {
  // Needs a real server: roles, and pg_stat_activity naming the holder's role (PGlite has one backend, no roles).
  it.skipIf(isEmbedded())('can be held by a role with no privilege at all, and prune exits 3 naming that role', async () => {
    const url = new URL(databaseUrl());
    url.username = role;
    url.password = '';
    const other = new pg.Client({ connectionString: url.toString(), application_name: 'lock-squatter' });
    await other.connect();
    try {
      // No privilege on the schema: it cannot even read the table it blocks.
      await expect(other.query(`select 1 from ${schema.table()}`)).rejects.toThrow(/permission denied/);
      await other.query(await readmeLockStatement(schema.table()));
      const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--yes']);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain(`role '${role}'`);
      expect(result.stderr).toContain(`application 'lock-squatter'`);
      expect(result.stderr).toContain(`pid ${(other as unknown as { processID: number }).processID}`);
      expect(Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()}`)).rows[0]?.n)).toBe(1);
    } finally {
      await other.end();
    }
  });
});
