import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint, writeCheckpoint } from '../../src/delivery/checkpoint.js';
import { RuntimeError, UsageError } from '../../src/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-ckpt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkpoint file', () => {
  it('is absent before the first run: start from the beginning', async () => {
    expect(await readCheckpoint(join(dir, 'none.json'))).toBeUndefined();
  });

  it('round-trips a position in the documented format', async () => {
    const file = join(dir, 'ckpt.json');
    const position = { timestamp: '2026-11-25T18:54:49.014123Z', id: '9007199254740993' };
    await writeCheckpoint(file, position, new Date('2026-11-26T00:00:00Z'));
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 1, ...position, updated_at: '2026-11-26T00:00:00.000Z' });
    expect(await readCheckpoint(file)).toEqual(position);
  });

  it('replaces the old file atomically and leaves no temporary file', async () => {
    const file = join(dir, 'ckpt.json');
    await writeCheckpoint(file, { timestamp: '2026-11-25T18:54:49.000001Z', id: '1' });
    await writeCheckpoint(file, { timestamp: '2026-11-25T18:54:50.000002Z', id: '2' });
    expect(await readCheckpoint(file)).toEqual({ timestamp: '2026-11-25T18:54:50.000002Z', id: '2' });
    expect(await readdir(dir)).toEqual(['ckpt.json']);
  });

  it('reports a write into a missing directory as a RuntimeError naming the file', async () => {
    const file = join(dir, 'missing', 'ckpt.json');
    const error = await writeCheckpoint(file, { timestamp: '2026-11-25T18:54:49Z', id: '1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toContain(file);
  });

  it.each([
    ['not JSON', '{"version":1,', 'not valid JSON'],
    ['wrong version', '{"version":2,"timestamp":"2026-11-25T18:54:49Z","id":"1"}', '"version" must be 1'],
    ['bad timestamp', '{"version":1,"timestamp":"yesterday","id":"1"}', '"timestamp"'],
    ['numeric id', '{"version":1,"timestamp":"2026-11-25T18:54:49Z","id":1}', '"id"'],
    ['an array', '[]', 'malformed'],
  ])('rejects a malformed file (%s) with a UsageError naming it', async (_name, content, expected) => {
    const file = join(dir, 'ckpt.json');
    await writeFile(file, content);
    const error = await readCheckpoint(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain(expected);
  });
});
