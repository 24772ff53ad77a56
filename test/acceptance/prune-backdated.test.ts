import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

const OLD = 20_000;
const BATCH = 100;
let schema: TestSchema;

beforeAll(async () => {
  schema = await createTestSchema('prunebackdated');
  await createDefaultTable(schema);
});
afterAll(async () => {
  await schema?.drop();
});

const count = async (where: string) => Number((await schema.query<{ n: string }>(`select count(*) as n from ${schema.table()} where ${where}`)).rows[0]?.n);

describe('prune and entries inserted back-dated while it runs', () => {
  it('reports complete only when nothing before the cutoff is left, behind its position included', async () => {
    const table = schema.table();
    await schema.query(
      `insert into ${table} (created_at, operator, operation, resource_type, resource_id)
       select now() - interval '100 days' + g * interval '1 s', 'op', 'update', 'route', 'r-' || g from generate_series(1, ${OLD}) g`,
    );
    await schema.query(`insert into ${table} (created_at, operator) select now() - interval '1 day' + g * interval '1 s', 'keeper' from generate_series(1, 100) g`);
    // Each DELETE takes a few ms more, so the prune is surely mid-way when the back-dated entries arrive.
    await schema.query(`create function ${schema.name}.slow_delete() returns trigger language plpgsql as $$ begin perform pg_sleep(0.004); return null; end $$`);
    await schema.query(`create trigger slow_delete after delete on ${table} for each statement execute function ${schema.name}.slow_delete()`);

    const run = startCli(['--db', databaseUrl(), '--table', table, 'prune', '--retention-days', '30', '--batch-size', String(BATCH), '--yes', '--json']);
    const running = () => !run.exited();

    // Once a fifth of the old entries are gone, insert entries older than all of them: behind the prune's position.
    const deadline = Date.now() + 30_000;
    while (running() && Date.now() < deadline && (await count(`created_at < now() - interval '30 days'`)) > OLD * 0.8) await sleep(10);
    expect(running(), 'the prune ended before the back-dated entries could be inserted').toBe(true);
    await schema.query(`insert into ${table} (created_at, operator) select now() - interval '200 days' + g * interval '1 s', 'backdated' from generate_series(1, 50) g`);
    expect(running(), 'the prune ended before the back-dated entries were committed').toBe(true);

    const { code, stdout, stderr } = await run.result;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as { complete: boolean; deleted: number };
    expect(summary.complete).toBe(true);
    expect(summary.deleted).toBe(OLD + 50);
    expect(await count(`created_at < now() - interval '30 days'`)).toBe(0);
    expect(await count(`operator = 'keeper'`)).toBe(100);
  });
});
