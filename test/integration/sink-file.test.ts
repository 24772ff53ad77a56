import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliver } from '../../src/delivery/pipeline.js';
import { FileSink } from '../../src/sinks/file.js';
import { createSink } from '../../src/sinks/index.js';
import { makeRecords, streamOf } from '../support/fake-records.js';
import type { ExportRecord } from '../../src/domain.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function exportTo(path: string, records: ExportRecord[], extra: { gzip?: boolean } = {}): Promise<void> {
  const sink = new FileSink({ path, ...extra });
  try {
    await deliver({ records: streamOf(records), sink, concurrency: 4, batchMaxEntries: 37 });
  } finally {
    await sink.close();
  }
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

describe('file sink', () => {
  it('writes NDJSON in order, entries verbatim, even with batches encoded concurrently', async () => {
    const path = join(dir, 'out.ndjson');
    const records = makeRecords(500);
    await exportTo(path, records);
    const text = await readFile(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(lines(text)).toEqual(records.map((r) => r.json));
  });

  it('appends to an existing file, cutting a torn last line a stopped run left (never a line of another file)', async () => {
    const path = join(dir, 'out.ndjson');
    const records = makeRecords(50);
    await exportTo(path, records.slice(0, 20));
    await writeFile(path, `${await readFile(path, 'utf8')}${records[20]?.json.slice(0, 30) ?? ''}`);
    await exportTo(path, records.slice(20));
    expect(lines(await readFile(path, 'utf8'))).toEqual(records.map((r) => r.json));
    const foreign = join(dir, 'settings.json');
    await writeFile(foreign, '{"id":"old"}');
    await expect(exportTo(foreign, records)).rejects.toThrow(`--out '${foreign}' is not an NDJSON file of entries`);
    expect(await readFile(foreign, 'utf8')).toBe('{"id":"old"}');
  });

  it('gzips .gz files as concatenated members that stay valid across appends', async () => {
    const path = join(dir, 'out.ndjson.gz');
    const records = makeRecords(400);
    await exportTo(path, records.slice(0, 150));
    await exportTo(path, records.slice(150));
    const raw = await readFile(path);
    expect(raw[0]).toBe(0x1f);
    expect(lines(gunzipSync(raw).toString('utf8'))).toEqual(records.map((r) => r.json));
  });

  it('writes to stdout for "-"', async () => {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    const sink = createSink({ kind: 'file', path: '-', stdout });
    const records = makeRecords(80);
    const result = await deliver({ records: streamOf(records), sink, batchMaxEntries: 10 });
    await sink.close();
    expect(result.exported).toBe(80);
    expect(lines(Buffer.concat(chunks).toString('utf8'))).toEqual(records.map((r) => r.json));
  });

  it('reports an unwritable path as fatal, naming it', async () => {
    const sink = new FileSink({ path: dir }); // a directory
    await expect(deliver({ records: streamOf(makeRecords(3)), sink })).rejects.toThrow(`cannot write --out '${dir}': it is a directory`);
    await sink.close();
  });
});
