import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

let schema: TestSchema;
let ids: string[];

beforeAll(async () => {
  schema = await createTestSchema('show');
  await createDefaultTable(schema);
  const consumer = (key: string, desc: string) => ({ username: 'alice', desc, plugins: { 'key-auth': { key } } });
  ids = await insertRows(schema, [
    { operation: 'UPDATE', resource_type: 'consumer', resource_id: 'alice', before: consumer('old-Secret-1', 'a'), after: consumer('new-Secret-2', 'b') },
    { operation: 'CREATE', resource_type: 'route', resource_id: 'r1', before: null, after: { uri: '/a', methods: ['GET'] } },
    { operation: 'DELETE', resource_type: 'route', resource_id: 'r1', before: { uri: '/a', methods: ['GET'] }, after: null },
  ]);
});
afterAll(() => schema.drop());

const show = (id: string, ...args: string[]) => runCli(['--db', databaseUrl(), '--table', schema.table(), 'show', id, ...args]);

describe('show', () => {
  it('diffs before and after with secrets masked, and still reports a rotated secret', async () => {
    const text = await show(ids[0] ?? '');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('-  "desc": "a"');
    expect(text.stdout).toContain('+  "desc": "b"');
    expect(text.stdout).not.toMatch(/old-Secret-1|new-Secret-2/);
    expect(text.stdout).toContain('Secrets changed (values hidden): key-auth key');

    const json = JSON.parse((await show(ids[0] ?? '', '--json')).stdout) as { changes: { path: string; before: unknown; after: unknown }[] };
    expect(json.changes).toEqual([
      { path: '$.desc', before: 'a', after: 'b' },
      { path: '$.plugins["key-auth"].key', before: '******', after: '******' },
    ]);
    const revealed = JSON.parse((await show(ids[0] ?? '', '--json', '--show-secrets')).stdout) as { changes: unknown[] };
    expect(revealed.changes).toContainEqual({ path: '$.plugins["key-auth"].key', before: 'old-Secret-1', after: 'new-Secret-2' });
  });

  it('CREATE shows every line added and DELETE every line removed', async () => {
    const created = (await show(ids[1] ?? '')).stdout.split('\n--- before\n+++ after\n')[1] ?? '';
    const createdLines = created.split('\n').filter((line) => line && !line.startsWith('@@'));
    expect(createdLines.length).toBeGreaterThan(3);
    expect(createdLines.every((line) => line.startsWith('+'))).toBe(true);
    const deleted = (await show(ids[2] ?? '')).stdout.split('\n--- before\n+++ after\n')[1] ?? '';
    const deletedLines = deleted.split('\n').filter((line) => line && !line.startsWith('@@'));
    expect(deletedLines.every((line) => line.startsWith('-'))).toBe(true);
    const json = JSON.parse((await show(ids[1] ?? '', '--output', 'json')).stdout) as { changes: unknown[] };
    expect(json.changes).toEqual([{ path: '$', after: { methods: ['GET'], uri: '/a' } }]);
  });

  it('colours the diff only on a terminal, and NO_COLOR turns it off there too', async () => {
    const args = ['--db', databaseUrl(), '--table', schema.table(), 'show', ids[0] ?? ''];
    expect((await runCli(args, { tty: true })).stdout).toContain('\u001b[32m+');
    expect((await runCli(args, { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\u001b[');
    expect((await runCli(args)).stdout).not.toContain('\u001b[');
  });
});
