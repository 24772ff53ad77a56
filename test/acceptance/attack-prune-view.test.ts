import { describe, expect, it } from 'vitest';
import { spawnCli, startCli } from '../support/cli.js';
import { createDefaultTable, databaseUrl, type TestSchema } from '../support/database.js';
import { slowDeletes, useScratch } from './attack-prune-fixture.js';
import { waitFor } from '../support/wait.js';

// prune through a view, through the built binary (npm run build first). The table's lock is keyed on the relation
// prune is given: the old binary took another lock for a view than for its table, so a prune through the view and
// one of the table ran at once. The promise: prune refuses a view, exit 2, naming the table to prune instead.

const OLD = 600;
const scratch = useScratch('attack-prune-view');

/** OLD entries 100 days old and 3 recent ones; each DELETE statement sleeps 20 ms; a view `v` over the table. */
async function seeded(): Promise<TestSchema> {
  const schema = await scratch.schema('atk_prune_view');
  await createDefaultTable(schema);
  const t = schema.table();
  await schema.query(`insert into ${t} (created_at, operator) select now() - interval '100 days' + g * interval '1 s', 'old' from generate_series(1, ${OLD}) g`);
  await schema.query(`insert into ${t} (created_at, operator) select now() - g * interval '1 hour', 'new' from generate_series(1, 3) g`);
  await slowDeletes(schema, 20);
  await schema.query(`create view ${schema.name}.v as select * from ${t}`);
  return schema;
}

const left = async (schema: TestSchema) => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()} where operator = 'old'`)).rows[0]?.n);
const prune = (table: string, ...extra: string[]) =>
  ['--db', databaseUrl(), '--table', table, 'prune', '--retention-days', '30', '--yes', '--json', '--batch-size', '20', ...extra];

describe('prune through a view', () => {
  it('while a prune of its table runs: exit 2 at once naming the table (the old binary deleted beside it)', async () => {
    const schema = await seeded();
    const running = startCli(prune(schema.table()));
    await waitFor(async () => (await left(schema)) < OLD, 30_000, 'the table prune deleting');
    const through = await spawnCli(prune(`${schema.name}.v`));
    expect(running.exited()).toBe(false);
    expect(through.code, through.stderr).toBe(2);
    expect(through.stdout).toBe('');
    expect(through.stderr).toBe(
      `error: ${schema.name}.v is a view: prune deletes from a table, whose lock keeps every other prune of it out; ` +
        `use --table ${schema.table()} (its columns mapped as that table names them)\n`,
    );
    const result = await running.result;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: OLD, complete: true });
  });

  it('a view over a view: names the table under both; nothing deleted, no lock left', async () => {
    const schema = await seeded();
    await schema.query(`create view ${schema.name}.vv as select * from ${schema.name}.v where operator is not null`);
    const through = await spawnCli(prune(`${schema.name}.vv`));
    expect(through.code, through.stderr).toBe(2);
    expect(through.stderr).toContain(`error: ${schema.name}.vv is a view: `);
    expect(through.stderr).toContain(`use --table ${schema.table()} (`);
    expect(await left(schema)).toBe(OLD);
    const table = await spawnCli(prune(schema.table()));
    expect(table.code, table.stderr).toBe(0);
    expect(await left(schema)).toBe(0);
  });

  it('a view joining two tables: names both, as the tables it reads', async () => {
    const schema = await seeded();
    await schema.query(`create table ${schema.name}.names (operator text primary key, full_name text)`);
    await schema.query(`create view ${schema.name}.joined as select a.*, n.full_name from ${schema.table()} a left join ${schema.name}.names n using (operator)`);
    const through = await spawnCli(prune(`${schema.name}.joined`));
    expect(through.code, through.stderr).toBe(2);
    expect(through.stderr).toMatch(
      new RegExp(`use --table with the table that holds the entries \\(it reads ${schema.table().replace('.', '\\.')}, ${schema.name}\\.names\\)\\n$`),
    );
    expect(await left(schema)).toBe(OLD);
  });

  it('--dry-run counts through it and warns that the real run would exit 2', async () => {
    const schema = await seeded();
    const dry = await spawnCli(prune(`${schema.name}.v`, '--dry-run'));
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ matched: OLD, deleted: 0 });
    expect(dry.stderr).toBe(`warning: ${schema.name}.v is a view: prune deletes from a table, whose lock keeps every other prune of it out; use --table ${schema.table()} (its columns mapped as that table names them); the real run would exit 2\n`);
  });
});
