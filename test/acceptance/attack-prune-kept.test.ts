import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';
import { useScratch } from './attack-prune-fixture.js';

// prune against a table that will not let its entries go, through the built binary (npm run build first): an
// append-only trigger, a legal hold on some entries, a rule on DELETE, a role without DELETE. The promise: what can
// go goes (archived), the rest is said for what it is, with exit 1 so cron notices, never "the next run deletes them".

const OLD = 600;
const scratch = useScratch('attack-prune-kept');
const role = `t_prune_ro_${randomBytes(4).toString('hex')}`;
afterAll(async () => {
  if (!isEmbedded()) {
    const schema = await createTestSchema('atk_prune_kept_roles');
    await schema.query(`drop role if exists ${role}`);
    await schema.drop();
  }
});

/** OLD entries 100 days old, every tenth of them by 'hold', and 10 recent ones. */
async function seeded(): Promise<TestSchema> {
  const schema = await scratch.schema('atk_prune_kept');
  await createDefaultTable(schema);
  await schema.query(`insert into ${schema.table()} (created_at, operator)
    select now() - interval '100 days' + g * interval '1 min', case when g % 10 = 0 then 'hold' else 'op' end from generate_series(1, ${OLD}) g`);
  await schema.query(`insert into ${schema.table()} (created_at, operator) select now() - g * interval '1 hour', 'new' from generate_series(1, 10) g`);
  return schema;
}

const count = async (schema: TestSchema, where = 'true') => Number((await schema.query<{ n: string }>(`select count(*) n from ${schema.table()} where ${where}`)).rows[0]?.n);
const prune = (schema: TestSchema, args: string[], url = databaseUrl(), env?: NodeJS.ProcessEnv) =>
  spawnCli(['--db', url, '--table', schema.table(), 'prune', '--retention-days', '30', '--batch-size', '50', ...args], { env });

/** Exit 1 and exactly one line on stderr matching `why`. */
function expectOneLineFailure(result: CliResult, why: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(why);
}

async function keepWith(schema: TestSchema, condition: string): Promise<void> {
  await schema.query(`create function ${schema.name}.keep() returns trigger language plpgsql as $$ begin if ${condition} then return null; end if; return old; end $$`);
  await schema.query(`create trigger keep before delete on ${schema.table()} for each row execute function ${schema.name}.keep()`);
}

describe('a table that keeps its entries', () => {
  it('an append-only trigger: exit 1 saying the table keeps them, after two passes (the old binary exited 0: "the next run deletes them")', async () => {
    const schema = await seeded();
    await keepWith(schema, 'true');
    const result = await prune(schema, ['--yes', '--json']);
    expectOneLineFailure(result, new RegExp(`^error: ${schema.table()} keeps entries older than the cutoff: its DELETE removed none of those left \\(a BEFORE DELETE trigger`));
    expect(JSON.parse(result.stdout)).toMatchObject({ matched: OLD, deleted: 0, complete: false, stopped: 'entries-kept' });
    expect(await count(schema)).toBe(OLD + 10);
  });

  it('a legal hold on some entries: the rest go and are archived, the held ones are named as kept', async () => {
    const schema = await seeded();
    await keepWith(schema, `old.operator = 'hold'`);
    const archive = join(scratch.dir(), `${schema.name}.ndjson`);
    const result = await prune(schema, ['--yes', '--json', '--archive', archive]);
    expectOneLineFailure(result, /keeps entries older than the cutoff/);
    const held = OLD / 10;
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: OLD - held, archived: OLD - held, stopped: 'entries-kept' });
    expect(await count(schema, `operator = 'hold'`)).toBe(held);
    expect(await count(schema, `operator = 'op'`)).toBe(0);
    expect(await count(schema, `operator = 'new'`)).toBe(10);
    const archived = (await readFile(archive, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as { operator: string });
    expect(archived).toHaveLength(OLD - held);
    expect(archived.every((entry) => entry.operator === 'op')).toBe(true);
  });

  it('a rule on DELETE: exit 1 naming the rule before anything is deleted (it was a database error and a --debug hint)', async () => {
    const schema = await seeded();
    await schema.query(`create rule no_delete as on delete to ${schema.table()} do instead nothing`);
    const result = await prune(schema, ['--yes']);
    expectOneLineFailure(result, new RegExp(`^error: ${schema.table()} has a rule on DELETE \\(no_delete\\), which prune's DELETE cannot run through: .*; nothing was deleted\n$`));
    expect(result.stdout).toBe('');
    expect(await count(schema)).toBe(OLD + 10);
  });

  it.skipIf(isEmbedded())('a read-only session (default_transaction_read_only): exit 1 saying so before the first batch (it was a database error and a --debug hint)', async () => {
    const schema = await seeded();
    const readOnly = { PGOPTIONS: '-c default_transaction_read_only=on' };
    const result = await prune(schema, ['--yes'], databaseUrl(), readOnly);
    expectOneLineFailure(result, /^error: the session's transactions are read-only \(default_transaction_read_only is on, .*; nothing was deleted\n$/);
    expect(await count(schema)).toBe(OLD + 10);
    // A dry run is read-only anyway: it counts as usual.
    const dry = await prune(schema, ['--dry-run', '--json'], databaseUrl(), readOnly);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ matched: OLD });
  });

  it.skipIf(isEmbedded())('a role without DELETE: exit 1 naming the GRANT, nothing deleted; the dry run warns of it', async () => {
    const schema = await seeded();
    await schema.query(`create role ${role} login`).catch(() => undefined);
    await schema.query(`grant usage on schema ${schema.name} to ${role}; grant select on ${schema.table()} to ${role}`);
    const url = new URL(databaseUrl());
    url.username = role;
    url.password = '';
    const result = await prune(schema, ['--yes'], url.toString());
    expectOneLineFailure(result, new RegExp(`^error: role '${role}' may not DELETE from ${schema.table()}: GRANT DELETE ON ${schema.table()} TO ${role}, or prune as a role that may; nothing was deleted\n$`));
    expect(await count(schema)).toBe(OLD + 10);
    const dry = await prune(schema, ['--dry-run', '--json'], url.toString());
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain(`warning: role '${role}' may not DELETE from ${schema.table()}`);
    expect(JSON.parse(dry.stdout)).toMatchObject({ matched: OLD });
    await schema.query(`revoke all on ${schema.table()} from ${role}; revoke usage on schema ${schema.name} from ${role}`);
  });
});
