import type { BatchLimits } from '../sinks/types.js';
import type { ExportRecord } from '../domain.js';

/**
 * What the delivery engine reads: records one by one, or whole pages of them. A page costs one step of async
 * iteration instead of one per record, which matters at hundreds of thousands of records a second.
 */
export type RecordSource = AsyncIterable<ExportRecord | readonly ExportRecord[]>;

/**
 * Groups records into batches of at most `maxEntries` records and `maxBytes` bytes of entry JSON (UTF-8). A record
 * larger than `maxBytes` on its own travels alone: the sink decides whether it can take it.
 */
export async function* batchRecords(records: RecordSource, limits: BatchLimits): AsyncGenerator<ExportRecord[], void, undefined> {
  const maxEntries = Math.max(1, Math.floor(limits.maxEntries));
  const maxBytes = Math.max(1, limits.maxBytes);
  let batch: ExportRecord[] = [];
  let bytes = 0;
  for await (const item of records) {
    for (const record of isPage(item) ? item : [item]) {
      const size = record.jsonBytes.length;
      if (batch.length > 0 && bytes + size > maxBytes) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(record);
      bytes += size;
      if (batch.length >= maxEntries) {
        yield batch;
        batch = [];
        bytes = 0;
      }
    }
  }
  if (batch.length > 0) yield batch;
}

function isPage(item: ExportRecord | readonly ExportRecord[]): item is readonly ExportRecord[] {
  return Array.isArray(item);
}
