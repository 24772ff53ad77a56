import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { FakeHec } from '../support/fake-hec.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { spawnInPty } from '../support/pty.js';

// The built binary on a pseudo-terminal (util-linux `script`), where it behaves unlike in a pipe: colour, prune's
// confirmation prompt, export's progress line. Every wait is bounded by spawnInPty's timeout. `script` is part of
// util-linux (bsdutils), essential on Debian and Ubuntu: without it these fail rather than skip.

const ESC = '\u001b[';
const OLD = 8;
const RECENT = 3;
let schema: TestSchema;
let dir: string;
const schemas: TestSchema[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-tty-'));
  schema = await createTestSchema('acc_tty');
  await createDefaultTable(schema);
  await insertRows(schema, [
    { age: '3 hours', operator: 'alice', operation: 'DELETE', resource_type: 'route', resource_id: 'r-1', source_ip: '2001:db8:85a3::8a2e:370:7334' },
    { age: '2 hours', operator: 'bob', operation: 'UPDATE', resource_type: 'route', resource_id: 'r-2', source_ip: '10.0.0.5' },
    { age: '1 hours', operator: 'carol', operation: 'CREATE', resource_type: 'service', resource_id: 's-1', source_ip: '10.0.0.6' },
  ]);
});
afterAll(async () => {
  await Promise.all([schema.drop(), ...schemas.map((s) => s.drop()), rm(dir, { recursive: true, force: true })]);
});

const db = (table = schema.table()) => ['--db', databaseUrl(), '--table', table];
const lines = (output: string) => output.split(/\r?\n/);

describe('on a terminal', () => {
  it('list prints its table in colour with FORCE_COLOR and NO_COLOR unset, every value whole', async () => {
    const result = await spawnInPty([...db(), 'list']);
    expect(result.code, result.output).toBe(0);
    const header = lines(result.output)[0] ?? '';
    expect(header.startsWith(ESC)).toBe(true);
    expect(header).toContain('ID');
    // Each operation has its colour: a DELETE does not look like an UPDATE.
    const deleteLine = lines(result.output).find((line) => line.includes('alice')) ?? '';
    const updateLine = lines(result.output).find((line) => line.includes('bob')) ?? '';
    const colourOf = (line: string, word: string) => new RegExp(`(\\u001b\\[\\d+m)${word}`).exec(line)?.[1];
    expect(colourOf(deleteLine, 'DELETE')).toBeDefined();
    expect(colourOf(updateLine, 'UPDATE')).toBeDefined();
    expect(colourOf(deleteLine, 'DELETE')).not.toBe(colourOf(updateLine, 'UPDATE'));
    expect(result.output).toContain('2001:db8:85a3::8a2e:370:7334');
    expect(result.output).not.toContain('…');
  });

  it('list on a pseudo-terminal nobody sized (0 columns) prints every column whole, as in a pipe', async () => {
    const result = await spawnInPty([...db(), 'list'], { cols: 0, env: { NO_COLOR: '1' } });
    expect(result.code, result.output).toBe(0);
    expect(lines(result.output)[0]).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION\s+RESOURCE\s+SOURCE IP\s+SOURCE$/);
    expect(result.output).toMatch(/\balice\s+DELETE\s+route:r-1\s+2001:db8:85a3::8a2e:370:7334\s+-/);
    expect(result.output).not.toContain('…');
  });

  it.each([
    ['NO_COLOR=1', { NO_COLOR: '1' }],
    ['FORCE_COLOR=0', { FORCE_COLOR: '0' }],
  ])('list with %s prints not a single escape code', async (_name, env) => {
    const result = await spawnInPty([...db(), 'list'], { env });
    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toContain('\u001b');
    expect(lines(result.output)[0]).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION/);
    expect(result.output).toMatch(/\balice\s+DELETE\b/);
  });

  it('show colours its diff on a terminal (removed red, added green), and not with NO_COLOR=1', async () => {
    const id = (await schema.query<{ id: string }>(`select id::text as id from ${schema.table()} where operator = 'bob'`)).rows[0]?.id ?? '';
    await schema.query(`update ${schema.table()} set before = '{"name": "old-name"}', after = '{"name": "new-name"}' where id = $1`, [id]);
    const coloured = await spawnInPty([...db(), 'show', id]);
    expect(coloured.code, coloured.output).toBe(0);
    expect(coloured.output).toContain(`${ESC}31m-  "name": "old-name"`);
    expect(coloured.output).toContain(`${ESC}32m+  "name": "new-name"`);
    const plain = await spawnInPty([...db(), 'show', id], { env: { NO_COLOR: '1' } });
    expect(plain.code, plain.output).toBe(0);
    expect(plain.output).not.toContain('\u001b');
    expect(plain.output).toContain('-  "name": "old-name"');
  });

  it('list --output json on a terminal is plain JSON, no colour', async () => {
    const result = await spawnInPty([...db(), 'list', '--json']);
    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toContain('\u001b');
    expect((JSON.parse(result.output) as unknown[]).length).toBe(3);
  });

  async function pruneTable(): Promise<TestSchema> {
    const own = await createTestSchema('acc_tty_prune');
    schemas.push(own);
    await createDefaultTable(own);
    await insertRows(own, Array.from({ length: OLD }, (_, i) => ({ age: `${90 + i} days`, operator: 'old' })));
    await insertRows(own, Array.from({ length: RECENT }, (_, i) => ({ age: `${i + 1} days`, operator: 'new' })));
    return own;
  }
  const count = async (own: TestSchema) => Number((await own.query<{ n: string }>(`select count(*) as n from ${own.table()}`)).rows[0]?.n);
  const PROMPT = /Delete (\d+) entries from \S+ older than \S+, the oldest from \S+\? \[y\/N\] /;
  const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');
  /** What the terminal showed after the prompt, without cursor movements, as non-empty lines. */
  const linesAfterPrompt = (output: string) =>
    output.slice(output.search(PROMPT)).replace(PROMPT, '').replace(CSI, '').split(/\r?\n/).map((line) => line.trim()).filter(Boolean);

  it("prune asks first; 'n' deletes nothing, one line, exit 1", async () => {
    const own = await pruneTable();
    const result = await spawnInPty([...db(own.table()), 'prune', '--retention-days', '30'], { answer: { when: PROMPT, send: 'n\r' } });
    expect(PROMPT.exec(result.output)?.[1]).toBe(String(OLD));
    expect(result.code, result.output).toBe(1);
    expect(result.output).toContain('Nothing deleted: the prompt was declined.');
    expect(result.output).not.toContain('error:');
    expect(result.output).not.toMatch(/\n\s+at /);
    expect(await count(own)).toBe(OLD + RECENT);
  });

  it("prune asks first; 'y' deletes exactly the old entries", async () => {
    const own = await pruneTable();
    const result = await spawnInPty([...db(own.table()), 'prune', '--retention-days', '30'], { answer: { when: PROMPT, send: 'y\r' } });
    expect(PROMPT.exec(result.output)?.[1]).toBe(String(OLD));
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`Deleted ${OLD} of ${OLD} entries`);
    expect(await count(own)).toBe(RECENT);
  });

  it('prune: Ctrl-C at the prompt is an interruption: one line, exit 130, nothing deleted', async () => {
    const own = await pruneTable();
    const result = await spawnInPty([...db(own.table()), 'prune', '--retention-days', '30'], { answer: { when: PROMPT, send: '\u0003' } });
    expect(PROMPT.test(result.output)).toBe(true);
    expect(result.code, result.output).toBe(130);
    expect(linesAfterPrompt(result.output)).toEqual(['error: interrupted at the confirmation prompt; nothing was deleted']);
    expect(await count(own)).toBe(OLD + RECENT);
  });

  it('prune: Ctrl-D (end of input) at the prompt is a no: one line, exit 1, nothing deleted', async () => {
    const own = await pruneTable();
    const result = await spawnInPty([...db(own.table()), 'prune', '--retention-days', '30'], { answer: { when: PROMPT, send: '\u0004' } });
    expect(PROMPT.test(result.output)).toBe(true);
    expect(result.code, result.output).toBe(1);
    expect(linesAfterPrompt(result.output)).toEqual(['Nothing deleted: the prompt was declined.']);
    expect(await count(own)).toBe(OLD + RECENT);
  });

  it('prune --yes does not ask', async () => {
    const own = await pruneTable();
    const result = await spawnInPty([...db(own.table()), 'prune', '--retention-days', '30', '--yes']);
    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toContain('[y/N]');
    expect(await count(own)).toBe(RECENT);
  });

  it('export: Ctrl-C typed while the progress line spins and a HEC answers 503 stops the run, exit 130, nothing counted', async () => {
    const { server, hec } = await FakeHec.start({ token: 'tty-hec-token', failFirst: 1_000_000 });
    try {
      const checkpoint = join(dir, 'ctrl-c.json');
      const result = await spawnInPty([...db(), 'export', '--hec-url', server.url, '--checkpoint', checkpoint, '--max-retry-time', '60s'], {
        env: { API7_AUDIT_HEC_TOKEN: 'tty-hec-token' },
        answer: { when: /retrying batch/, send: '\u0003' },
      });
      expect(result.output).toContain('Exporting to');
      expect(result.code, result.output).toBe(130);
      expect(result.output).toContain('error: export interrupted after 0 entries');
      expect(result.output).not.toMatch(/\n\s+at /);
      expect(hec.ids.unique).toBe(0);
      await expect(readFile(checkpoint, 'utf8')).rejects.toThrow(/ENOENT/);
    } finally {
      await server.close();
    }
  });

  it('export shows a progress line on the terminal (stderr), and stdout carries only the entries', async () => {
    const out = join(dir, 'progress.ndjson');
    const result = await spawnInPty([...db(), 'export', '--out', '-'], { redirect: `> '${out}'` });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('Exporting to stdout');
    expect(result.output).toContain(ESC);
    expect(result.output).toMatch(/exported 3 entries to stdout/);
    const written = (await readFile(out, 'utf8')).split('\n').filter(Boolean);
    expect(written).toHaveLength(3);
    for (const line of written) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(await readFile(out, 'utf8')).not.toContain('\u001b');
  });
});

it('export off a terminal prints no progress line: the summary alone on stderr', async () => {
  const result = await spawnCli([...db(), 'export', '--out', '-']);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toMatch(/^exported 3 entries to stdout in [^\n]*\n$/);
  expect(result.stderr).not.toContain('Exporting to');
  expect(result.stderr).not.toContain('\u001b');
});
