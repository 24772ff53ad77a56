import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestDatabase, createTestSchema, type SeedRow, type TestSchema } from '../support/database.js';
import type { Problem as SourceProblem } from '../../src/seal/compare.js';
import type { SealCheck, VerifyReport } from '../../src/seal/verify-report.js';

type AllKeys<T> = T extends unknown ? keyof T : never;
type ValueOf<T, K extends PropertyKey> = T extends Record<K, infer V> ? V : never;
/** A problem as verify's --json prints it (the source's type), every field optional so that any kind can be read. */
export type Problem = { [K in AllKeys<SourceProblem>]?: ValueOf<SourceProblem, K> };
/** verify's --json report, its problems read as {@link Problem}. */
export type Report = Omit<VerifyReport, 'seals' | 'problems'> & {
  seals: (Omit<SealCheck, 'problems'> & { problems: Problem[] })[];
  problems: Problem[];
};
export interface SealRecordJson {
  seq: number;
  from: string | null;
  to: string;
  count: number;
  hash: string;
  previous_hash: string;
  late_commit_guard: string;
}

/** The exit code of a verify that checked and found something not intact (README, seal and verify). */
export const NOT_INTACT = 4;

/**
 * A database of the file's own (a seal's bound is the oldest open transaction in its database, so other files'
 * transactions must not hold it back), a key pair, and a directory for stores.
 */
export async function sealWorld(prefix: string) {
  const database = await createTestDatabase(prefix);
  const dir = await mkdtemp(join(tmpdir(), `api7-${prefix}-`));
  const key = join(dir, 'seal.key');
  const created = await spawnCli(['seal', '--new-key', '--key', key]);
  expect(created.code, created.stderr).toBe(0);
  const schemas: TestSchema[] = [];
  return {
    database,
    dir,
    key,
    /** A schema with the default table (unless `create` makes another) and a store for it. */
    async fixture(name: string, create: (schema: TestSchema) => Promise<string> = defaultTable) {
      const schema = await createTestSchema(name, database.url);
      schemas.push(schema);
      const table = await create(schema);
      const store = join(dir, `${name}-store`);
      await mkdir(store);
      return sealFixture(database.url, table, store, key, schema);
    },
    async close() {
      await Promise.all(schemas.map((schema) => schema.drop()));
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function defaultTable(schema: TestSchema): Promise<string> {
  await createDefaultTable(schema);
  return schema.table();
}

export type SealFixture = ReturnType<typeof sealFixture>;

/** seal and verify of one table and store through the built binary; `extra` goes before the command (--config). */
export function sealFixture(url: string, table: string, store: string, key: string, schema: TestSchema, extra: string[] = []) {
  const base = ['--db', url, '--table', table, ...extra];
  const verify = (...flags: string[]) => spawnCli([...base, 'verify', '--public-key', `${key}.pub`, '--store', store, ...flags]);
  return {
    schema,
    table,
    store,
    base,
    seal: (...flags: string[]) => spawnCli([...base, 'seal', '--key', key, '--store', store, ...flags]),
    /** Seals and returns the record; fails the test unless a seal was written. */
    async sealRecord(...flags: string[]): Promise<SealRecordJson> {
      const result = await spawnCli([...base, 'seal', '--key', key, '--store', store, '--json', ...flags]);
      expect(result.code, result.stderr).toBe(0);
      const parsed = JSON.parse(result.stdout) as { sealed: boolean; record: SealRecordJson };
      expect(parsed.sealed, result.stdout).toBe(true);
      return parsed.record;
    },
    verify,
    async verifyJson(...flags: string[]): Promise<{ result: CliResult; report: Report }> {
      const result = await verify('--json', ...flags);
      expect(result.stdout, result.stderr).not.toBe('');
      return { result, report: JSON.parse(result.stdout) as Report };
    },
    /** Every problem of every seal, flattened. */
    problemsOf(report: Report): Problem[] {
      return [...report.seals.flatMap((seal) => seal.problems), ...report.problems];
    },
  };
}

/** `count` rows a minute apart, the newest a minute old, with the variety the default table allows. */
export function minuteRows(count: number, extra: (i: number) => Partial<SeedRow> = () => ({})): SeedRow[] {
  return Array.from({ length: count }, (_, i) => ({
    age: `${count - i} minutes`,
    operator: i % 2 === 0 ? 'alice' : 'zoë',
    operation: 'update',
    resource_type: 'route',
    resource_id: `r-${i}`,
    resource_name: `route ${i}`,
    source_ip: i % 2 === 0 ? '10.0.0.7' : '2001:db8::1',
    source: 'dashboard',
    before: { uri: `/v${i}`, plugins: { 'key-auth': { key: `secret-${i}` } } },
    after: { uri: `/v${i + 1}` },
    ...extra(i),
  }));
}
