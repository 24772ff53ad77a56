import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { checkWritableDirectory, openEntryFile } from '../../src/output/private-file.js';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'private-file-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const entry = (id: number) => JSON.stringify({ id, timestamp: '2026-01-01T00:00:00Z', operator: null, operation: 'update', after: { n: id } });
const fresh = () => join(dir, `f${(n += 1)}`);

/** Opens `content` as an existing file; returns the size kept (or the refusal) and the warnings. */
async function open(content: string | Buffer, gzip = false): Promise<{ kept?: number; error?: unknown; warnings: string[]; after: Buffer }> {
  const path = fresh();
  await writeFile(path, content, { mode: 0o600 });
  const warnings: string[] = [];
  try {
    const file = await openEntryFile(path, { flag: '--out', gzip, warn: (message) => warnings.push(message) });
    await file.handle.close();
    return { kept: file.size, warnings, after: await readFile(path) };
  } catch (error) {
    return { error, warnings, after: await readFile(path) };
  }
}

describe('plain NDJSON', () => {
  it('keeps a file of entries and cuts only a torn last line', async () => {
    const whole = `${entry(1)}\n${entry(2)}\n`;
    expect((await open(whole)).kept).toBe(whole.length);
    const torn = await open(`${whole}${entry(3).slice(0, 9)}`);
    expect(torn.kept).toBe(whole.length);
    expect(torn.after.toString()).toBe(whole);
    expect(torn.warnings).toEqual([expect.stringContaining('cut a torn last line (9 bytes)')]);
  });

  it('a whole entry that lost only its newline is a torn write too', async () => {
    expect((await open(entry(1))).kept).toBe(0);
  });

  it('refuses, untouched, anything whose first or last line is not an entry', async () => {
    for (const content of [`{"name":"x"}\n${entry(1)}\n`, `${entry(1)}\n{"name":"x"}\n`, `${entry(1)}\nnotes`, '{"id":1}', '\n']) {
      const result = await open(content);
      expect(result.error).toBeInstanceOf(UsageError);
      expect(result.after.toString()).toBe(content);
    }
  });
});

describe('gzip members', () => {
  const member = (...ids: number[]) => gzipSync(`${ids.map(entry).join('\n')}\n`);

  it('keeps whole members, also with a file name in the header as gzip(1) writes it', async () => {
    const named = member(1);
    // FLG.FNAME and a zero-terminated name after the 10 fixed bytes.
    const withName = Buffer.concat([named.subarray(0, 3), Buffer.from([0x08]), named.subarray(4, 10), Buffer.from('audit.ndjson\0'), named.subarray(10)]);
    const content = Buffer.concat([withName, member(2, 3)]);
    expect((await open(content, true)).kept).toBe(content.length);
  });

  it.each([1, 2, 9, 15, 30])('cuts a last member torn after %i bytes', async (bytes) => {
    const head = Buffer.concat([member(1), member(2)]);
    const result = await open(Buffer.concat([head, member(3, 4).subarray(0, bytes)]), true);
    expect(result.kept).toBe(head.length);
    expect(result.after.equals(head)).toBe(true);
  });

  it('refuses, untouched, damage followed by whole members, trailing garbage, or members that are not entries', async () => {
    const long = member(...Array.from({ length: 200 }, (_, i) => i));
    for (const content of [
      Buffer.concat([long.subarray(0, long.length - 40), member(9)]),
      Buffer.concat([member(1), Buffer.from('garbage')]),
      gzipSync('{"name":"x"}\n'),
      gzipSync(`${entry(1)}`),
    ]) {
      const result = await open(content, true);
      expect(result.error).toBeInstanceOf(UsageError);
      expect(result.after.equals(content)).toBe(true);
    }
  });
});

describe('creation and paths', () => {
  it('creates the file with mode 0600', async () => {
    const created = fresh();
    const file = await openEntryFile(created, { flag: '--out', gzip: false, warn: () => undefined });
    await file.handle.close();
    expect((await stat(created)).mode & 0o777).toBe(0o600);
    expect(file.created).toBe(true);
  });

  it('checkWritableDirectory names a missing directory and a file standing in for one', async () => {
    await expect(checkWritableDirectory(join(dir, 'nope', 'c.json'), '--checkpoint')).rejects.toThrow(`directory '${join(dir, 'nope')}' does not exist`);
    const file = fresh();
    await writeFile(file, '');
    await expect(checkWritableDirectory(join(file, 'c.json'), '--checkpoint')).rejects.toThrow('is not a directory');
    await expect(checkWritableDirectory(join(dir, 'c.json'), '--checkpoint')).resolves.toBeUndefined();
  });
});
