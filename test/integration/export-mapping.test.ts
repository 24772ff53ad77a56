import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { runCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { createCustomLayout } from '../support/custom-layout.js';

let schema: TestSchema;
let dir: string;

// Export builds each entry's JSON on the server from the same field expressions list uses: on a layout unlike the
// default (a timestamp without time zone, text ids and IPs, text and json state, columns missing), both must
// produce the same canonical entries.
beforeAll(async () => {
  schema = await createTestSchema('exportmap');
  dir = await createCustomLayout(schema, 2500);
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

const lines = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);

describe('export on a custom mapping', () => {
  it('ships the entries list prints, oldest first, secrets masked, across pages', async () => {
    const listed = await runCli(['--config', 'api7-audit.yaml', '--db', databaseUrl(), 'list', '--all', '--order', 'asc', '-o', 'ndjson'], { cwd: dir });
    expect(listed.stderr).toBe('');
    const out = join(dir, 'out.ndjson');
    const exported = await runCli(['--config', 'api7-audit.yaml', '--db', databaseUrl(), 'export', '--settle', '0', '--out', out, '--json'], { cwd: dir });
    expect(exported.stderr).toBe('');
    expect(JSON.parse(exported.stdout)).toMatchObject({ exported: 2500 });
    const text = await readFile(out, 'utf8');
    expect(text).not.toMatch(/BEGIN PRIVATE KEY|"k-\d+"/);
    const entries = lines(text);
    expect(entries).toEqual(lines(listed.stdout));
    expect(entries[0]).toMatchObject({ id: 'ev-2500', resource_name: null, source: null });
    expect(entries.map((e) => e.timestamp)).toEqual([...entries.map((e) => e.timestamp)].sort());
  });
});
