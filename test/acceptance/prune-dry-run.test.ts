import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

// prune --dry-run through the built binary: PostgreSQL, not the tool, keeps it from writing. The audit "table" here
// is a view whose filter calls a function that writes a row each time it runs: any query of a dry run over it
// tries to write, and only a READ ONLY session refuses.

let schema: TestSchema;
const writes = async () => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.name}.writes`)).rows[0]?.n);
const entries = async () => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()}`)).rows[0]?.n);
const prune = (table: string, ...extra: string[]) => spawnCli(['--db', databaseUrl(), '--table', table, 'prune', '--retention-days', '30', ...extra]);

beforeAll(async () => {
  schema = await createTestSchema('prunedry');
  await createDefaultTable(schema);
  await insertRows(schema, [{ age: '40 days' }, { age: '41 days' }, { age: '1 day' }]);
  await schema.query(`create table ${schema.name}.writes (at timestamptz default now())`);
  await schema.query(`create function ${schema.name}.write_one() returns boolean language sql volatile
    as $$ insert into ${schema.name}.writes default values returning true $$`);
  await schema.query(`create view ${schema.name}.writing_view as select * from ${schema.table()} where ${schema.name}.write_one()`);
});
afterAll(async () => {
  await schema?.drop();
});

describe('prune --dry-run', () => {
  it('cannot write: a query that would write fails, read-only, and nothing is written or deleted', async () => {
    // The view writes when read outside a read-only transaction: the trap works.
    await schema.query(`select count(*) from ${schema.name}.writing_view`);
    expect(await writes()).toBeGreaterThan(0);
    await schema.query(`delete from ${schema.name}.writes`);

    const result = await prune(`${schema.name}.writing_view`, '--dry-run', '--json');
    expect(result.code, result.stdout).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot execute INSERT in a read-only transaction\n/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await writes()).toBe(0);
    expect(await entries()).toBe(3);
  });

  it('counts what a prune would delete, deletes nothing, and leaves the next prune free to run', async () => {
    const dry = await prune(schema.table(), '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, matched: 2 });
    expect(await entries()).toBe(3);

    const real = await prune(schema.table(), '--yes', '--json');
    expect(real.code, real.stderr).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ deleted: 2 });
    expect(await entries()).toBe(1);
  });
});
