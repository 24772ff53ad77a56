import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { PAGE_SIZE } from '../../src/queries/list.js';
import { runCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

// Entries sharing one timestamp whose ids cross digit lengths (9 -> 10, 99 -> 100, 999 -> 1000): ties are broken by
// the id as a number, the same order the keyset comparison `(created_at, id) > (...)` uses. Ordering by the `id::text`
// output column instead sorted "10" before "9" and lost or repeated entries at page boundaries.
const ROWS = PAGE_SIZE + 500;
let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  schema = await createTestSchema('ties');
  await createDefaultTable(schema);
  await schema.query(`insert into ${schema.table()} (id, created_at, operator, operation, resource_type, resource_id)
    select i, timestamptz '2026-01-02T03:04:05.678901Z', 'tie', 'UPDATE', 'route', 'r-' || i from generate_series(1, ${ROWS}) as i`);
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-ties-'));
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

const base = () => ['--db', databaseUrl(), '--table', schema.table()];
const numbers = (count: number, from = 1) => Array.from({ length: count }, (_, i) => String(from + i));

describe('entries with equal timestamps', () => {
  it('export ships each once, in id order, across a page boundary', async () => {
    const out = join(dir, 'ties.ndjson');
    const result = await runCli([...base(), 'export', '--settle', '0', '--out', out, '--json']);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ exported: ROWS });
    const ids = (await readFile(out, 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as AuditEntry).id);
    expect(ids).toEqual(numbers(ROWS));
  });

  it('list pages through them with --cursor, newest (highest id) first, none lost or repeated', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = await runCli([...base(), 'list', '--operator', 'tie', '--limit', '4', '-o', 'ndjson', '--resource', 'route:r-8',
        '--resource', 'route:r-9', '--resource', 'route:r-10', '--resource', 'route:r-11', '--resource', 'route:r-12',
        '--resource', 'route:r-99', '--resource', 'route:r-100', '--resource', 'route:r-101', ...(cursor ? ['--cursor', cursor] : [])]);
      expect(result.code).toBe(0);
      seen.push(...result.stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as AuditEntry).id));
      cursor = /--cursor (\S+)/.exec(result.stderr)?.[1];
      if (!cursor) break;
    }
    expect(seen).toEqual(['101', '100', '99', '12', '11', '10', '9', '8']);
  });
});
