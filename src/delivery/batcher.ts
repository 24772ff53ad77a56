import type { BatchLimits, ExportRecord } from '../sinks/types.js';

/**
 * Groups records into batches of at most `maxEntries` records and `maxBytes` bytes of entry JSON (UTF-8). A record
 * larger than `maxBytes` on its own travels alone: the sink decides whether it can take it.
 */
export async function* batchRecords(
  records: AsyncIterable<ExportRecord>,
  limits: BatchLimits,
): AsyncGenerator<ExportRecord[], void, undefined> {
  const maxEntries = Math.max(1, Math.floor(limits.maxEntries));
  const maxBytes = Math.max(1, limits.maxBytes);
  let batch: ExportRecord[] = [];
  let bytes = 0;
  for await (const record of records) {
    const size = Buffer.byteLength(record.json);
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
  if (batch.length > 0) yield batch;
}
