import { describe, expect, it } from 'vitest';
import { batchRecords } from '../../src/delivery/batcher.js';
import { makeRecords, streamOf } from '../support/fake-records.js';
import type { ExportRecord } from '../../src/domain.js';

async function collect(records: ExportRecord[], maxEntries: number, maxBytes: number): Promise<ExportRecord[][]> {
  const out: ExportRecord[][] = [];
  for await (const batch of batchRecords(streamOf(records), { maxEntries, maxBytes })) out.push(batch);
  return out;
}

describe('batchRecords', () => {
  it('cuts batches at maxEntries and keeps order', async () => {
    const records = makeRecords(10);
    const batches = await collect(records, 4, 1e9);
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(batches.flat().map((r) => r.id)).toEqual(records.map((r) => r.id));
  });

  it('cuts batches before exceeding maxBytes (UTF-8 bytes of the entry JSON)', async () => {
    const records = makeRecords(10, 1000);
    const size = Buffer.byteLength(records[0]!.json);
    const batches = await collect(records, 100, size * 3 + 10);
    expect(batches.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    for (const batch of batches) {
      expect(batch.reduce((n, r) => n + Buffer.byteLength(r.json), 0)).toBeLessThanOrEqual(size * 3 + 10);
    }
  });

  it('lets a record larger than maxBytes travel alone', async () => {
    const records = makeRecords(3, 500);
    const batches = await collect(records, 100, 100);
    expect(batches.map((b) => b.length)).toEqual([1, 1, 1]);
  });

  it('takes pages of records as well as single ones, cutting batches the same way', async () => {
    const records = makeRecords(10);
    async function* pages() {
      yield records.slice(0, 3);
      yield records[3] as ExportRecord;
      yield [];
      yield records.slice(4);
    }
    const batches: ExportRecord[][] = [];
    for await (const batch of batchRecords(pages(), { maxEntries: 4, maxBytes: 1e9 })) batches.push(batch);
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(batches.flat().map((r) => r.id)).toEqual(records.map((r) => r.id));
  });

  it('yields nothing for an empty stream', async () => {
    expect(await collect([], 10, 1000)).toEqual([]);
  });
});
