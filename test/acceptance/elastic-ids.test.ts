import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeElastic } from '../support/fake-elastic.js';
import type { FakeServer } from '../support/fake-server.js';
import { startRecorded } from '../support/recording.js';

// Elasticsearch's `_id` makes a resend a 409 ("already stored"). It was `api7-audit-<id>`: after a table's ids started
// again (a restore, TRUNCATE ... RESTART IDENTITY), every new entry hit a stored one's `_id`, was answered 409 and
// counted as delivered: exit 0, "duplicates: 20", nothing stored.

let schema: TestSchema;
let dir: string;
let server: FakeServer;
const es = new FakeElastic({ apiKey: 'es-K3y-x' });
beforeAll(async () => {
  schema = await createTestSchema('elastic_ids');
  await createDefaultTable(schema);
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-elastic-ids-'));
  server = (await startRecorded(es)).server;
});
afterAll(async () => {
  await Promise.all([schema.drop(), server?.close(), rm(dir, { recursive: true, force: true })]);
});

const seed = (operator: string, minutesAgo: number) =>
  insertRows(schema, Array.from({ length: 20 }, (_, i) => ({ age: `${minutesAgo - i} minutes`, operator, operation: 'update', resource_type: 'route', resource_id: `r-${i}` })));
const exportRun = async (checkpoint: string) => {
  const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--json', '--elastic-url', server.url, '--settle', '0s', '--checkpoint', join(dir, checkpoint)],
    { env: { API7_AUDIT_ELASTIC_API_KEY: 'es-K3y-x' } });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { exported: number; duplicates: number };
};

describe('Elasticsearch _id across a table whose ids start again (built binary, real server)', () => {
  it('stores the new entries beside the old ones, none counted as already stored', async () => {
    const first = await seed('before-restore', 120);
    expect(await exportRun('a.json')).toMatchObject({ exported: 20, duplicates: 0 });
    await schema.query(`truncate ${schema.table()} restart identity`);
    const second = await seed('after-restore', 60);
    expect(second).toEqual(first);
    expect(await exportRun('b.json')).toMatchObject({ exported: 20, duplicates: 0 });
    const operators = [...es.docs.values()].map((doc) => (doc as { operator: string }).operator);
    expect(operators.filter((name) => name === 'before-restore')).toHaveLength(20);
    expect(operators.filter((name) => name === 'after-restore')).toHaveLength(20);
  });
});
