import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { openArchive } from '../../src/output/archive-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prune-archive-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const line = (id: number) => JSON.stringify({ id: String(id), timestamp: '2026-01-01T00:00:00.000000Z', operation: 'update', after: { name: `r ${id}` } });
const ids = (text: string) => text.split('\n').filter(Boolean).map((row) => (JSON.parse(row) as { id: string }).id);

describe('archive writer', () => {
  it('appends NDJSON batches to a new file readable only by its owner', async () => {
    const path = join(dir, 'plain.ndjson');
    const archive = await openArchive(path);
    await archive.append([line(1), line(2)]);
    await archive.append([]);
    await archive.append([line(3)]);
    expect(archive.entries).toBe(3);
    await archive.close();
    expect(ids(await readFile(path, 'utf8'))).toEqual(['1', '2', '3']);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('writes one gzip member per batch, and appends to an existing archive', async () => {
    const path = join(dir, 'batches.ndjson.gz');
    const first = await openArchive(path);
    await first.append([line(1)]);
    await first.append([line(2), line(3)]);
    await first.close();
    const second = await openArchive(path);
    await second.append([line(4)]);
    await second.close();
    expect(ids(gunzipSync(await readFile(path)).toString('utf8'))).toEqual(['1', '2', '3', '4']);
  });

  it('cuts a torn last line (a batch that never committed) before appending', async () => {
    const path = join(dir, 'torn.ndjson');
    await writeFile(path, `${line(1)}\n${line(2).slice(0, 20)}`);
    const archive = await openArchive(path);
    await archive.append([line(2)]);
    await archive.close();
    expect(ids(await readFile(path, 'utf8'))).toEqual(['1', '2']);
  });

  it('refuses to cut what is not a torn entry', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'my notes\nno newline at the end');
    await expect(openArchive(path)).rejects.toThrow(UsageError);
    expect(await readFile(path, 'utf8')).toBe('my notes\nno newline at the end');
  });

  it('cuts a torn last gzip member (a batch that never committed), which would hide what is appended after it', async () => {
    const path = join(dir, 'torn.ndjson.gz');
    const whole = gzipSync(`${line(1)}\n`);
    const torn = gzipSync(`${line(2)}\n`).subarray(0, 15);
    await writeFile(path, Buffer.concat([whole, torn]));
    const warnings: string[] = [];
    const archive = await openArchive(path, (message) => warnings.push(message));
    await archive.append([line(2)]);
    await archive.close();
    expect(ids(gunzipSync(await readFile(path)).toString('utf8'))).toEqual(['1', '2']);
    expect(warnings).toContainEqual(expect.stringContaining('cut a torn last gzip member (15 bytes)'));
  });

  it('names the file when it cannot be created', async () => {
    const path = join(dir, 'missing-dir', 'a.ndjson');
    await expect(openArchive(path)).rejects.toThrow(`cannot write --archive '${path}': directory '${join(dir, 'missing-dir')}' does not exist`);
  });
});
