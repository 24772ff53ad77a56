import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestSchema, type TestSchema } from '../support/database.js';

// What the attack-prune files share: a scratch directory and schemas dropped after each test, and a table
// partitioned by time with the default columns.

export interface Scratch {
  /** The file's scratch directory (made before its first test, removed after its last). */
  dir(): string;
  /** A schema of its own, dropped after the test. */
  schema(prefix: string): Promise<TestSchema>;
}

/** Registers the hooks of a file's scratch directory and schemas. */
export function useScratch(name: string): Scratch {
  const schemas: TestSchema[] = [];
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `${name}-`));
  });
  afterEach(async () => {
    await Promise.all(schemas.splice(0).map((schema) => schema.drop()));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return {
    dir: () => dir,
    async schema(prefix) {
      const schema = await createTestSchema(prefix);
      schemas.push(schema);
      return schema;
    },
  };
}

/** The default columns, for tables created here. */
export const DEFAULT_COLUMNS =
  'created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb';

/** `schema.audit_logs` partitioned by range on created_at, with its (created_at, id) index and no partitions yet. */
export async function createTimePartitioned(schema: TestSchema): Promise<string> {
  const t = schema.table();
  await schema.query(`create table ${t} (id bigserial, ${DEFAULT_COLUMNS}) partition by range (created_at)`);
  await schema.query(`create index on ${t} (created_at, id)`);
  return t;
}

/** `now() - days` as timestamptz text, for a partition bound. */
export async function daysAgo(schema: TestSchema, days: number): Promise<string> {
  return (await schema.query<{ t: string }>(`select (now() - make_interval(days => $1))::text t`, [days])).rows[0]?.t as string;
}

/** Makes each DELETE statement on the schema's table sleep `ms` after it ran: a prune slow enough to act on mid-run. */
export async function slowDeletes(schema: TestSchema, ms: number): Promise<void> {
  await schema.query(`create function ${schema.name}.slow() returns trigger language plpgsql as $$ begin perform pg_sleep(${ms / 1000}); return null; end $$`);
  await schema.query(`create trigger slow after delete on ${schema.table()} for each statement execute function ${schema.name}.slow()`);
}
