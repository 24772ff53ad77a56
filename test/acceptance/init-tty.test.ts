import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnInPty } from '../support/pty.js';
import { AUDIT_SHAPES } from '../support/audit-shapes.js';
import { createTestSchema, databaseUrl, isEmbedded, type TestSchema } from '../support/database.js';

// On a terminal init shows what it found first, then asks; only y or yes writes.
let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  schema = await createTestSchema('inittty');
  await AUDIT_SHAPES.find((shape) => shape.table === 'events')?.create(schema, 50);
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-init-tty-'));
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(isEmbedded())('init on a terminal', () => {
  it('shows the candidates, the sample and the YAML, asks, and writes on y', async () => {
    const config = join(dir, 'yes.yaml');
    const result = await spawnInPty(['--db', databaseUrl(), 'init', '--schema', schema.name, '--config', config], { timeoutMs: 20_000, answer: { when: /\[y\/N\] /, send: 'y\r' } });
    expect(result.code).toBe(0);
    const question = result.output.indexOf('[y/N]');
    expect(result.output.indexOf('Candidate audit tables')).toBeGreaterThanOrEqual(0);
    expect(result.output.indexOf('Candidate audit tables')).toBeLessThan(question);
    expect(result.output.indexOf('epoch: seconds')).toBeLessThan(question);
    expect(result.output).toContain(`wrote ${config}`);
    expect(await readFile(config, 'utf8')).toContain(`table: ${schema.name}.events`);
  });

  it('writes nothing on n (or Enter)', async () => {
    const config = join(dir, 'no.yaml');
    const result = await spawnInPty(['--db', databaseUrl(), 'init', '--schema', schema.name, '--config', config], { timeoutMs: 20_000, answer: { when: /\[y\/N\] /, send: '\r' } });
    expect(result.code).toBe(0);
    expect(result.output).toContain(`not written: declined (${config})`);
    await expect(readFile(config)).rejects.toThrow(/ENOENT/);
  });
});
