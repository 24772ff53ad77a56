import { afterEach, describe, expect, it } from 'vitest';
import { deliver, type DeliverOptions } from '../../src/delivery/pipeline.js';
import { RuntimeError } from '../../src/errors.js';
import { chunkRanges, DatadogSink, datadogIntakeUrl, type DatadogOptions } from '../../src/sinks/datadog.js';
import type { Sink } from '../../src/sinks/types.js';
import { FakeDatadog, type FakeDatadogOptions } from '../support/fake-datadog.js';
import { makeRecord, makeRecords, streamOf } from '../support/fake-records.js';
import type { FakeServer } from '../support/fake-server.js';
import type { ExportRecord } from '../../src/domain.js';

const KEY = 'dd-key';
const FAST_RETRY = { baseMs: 5, capMs: 40, maxAttempts: 12, maxRetryMs: 20_000 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(fake: FakeDatadogOptions = {}, options: Partial<DatadogOptions> = {}): Promise<{ server: FakeServer; dd: FakeDatadog; sink: Sink }> {
  const { server, dd } = await FakeDatadog.start({ apiKey: KEY, ...fake });
  const sink = new DatadogSink({ url: server.url, apiKey: KEY, hostname: 'ci', tags: 'env:test', timeoutMs: 2000, ...options });
  cleanups.push(() => server.close(), () => sink.close());
  return { server, dd, sink };
}

const run = (sink: Sink, records: ExportRecord[], extra: Partial<DeliverOptions> = {}) =>
  deliver({ records: streamOf(records), sink, concurrency: 4, retry: FAST_RETRY, ...extra });

describe('Datadog sink', () => {
  it('maps sites to intake URLs', () => {
    expect(datadogIntakeUrl('datadoghq.com')).toBe('https://http-intake.logs.datadoghq.com');
    expect(datadogIntakeUrl('datadoghq.eu')).toBe('https://http-intake.logs.datadoghq.eu');
    expect(datadogIntakeUrl('us3.datadoghq.com')).toBe('https://http-intake.logs.us3.datadoghq.com');
  });

  it('sends JSON arrays of logs carrying the entry under `audit`', async () => {
    const { dd, sink } = await setup();
    const records = makeRecords(30);
    const result = await run(sink, records);
    expect(result.exported).toBe(30);
    expect(dd.ids.unique).toBe(30);
    expect(dd.logs[1]).toEqual({
      ddsource: 'api7',
      service: 'api7-audit',
      ddtags: 'env:test',
      hostname: 'ci',
      message: 'user-1 update route r-1',
      // No timestamp: these records are dated days back, past the 18 hours Datadog takes a date for.
      audit: JSON.parse(records[1]!.json),
    });
    expect(dd.logs[0]!.message).toBe('- create route r-0');
  });

  it('keeps every request within 1000 logs and 5 MB even when told to batch more', async () => {
    const { dd, sink } = await setup();
    const small = makeRecords(2500);
    const large = Array.from({ length: 1500 }, (_, i) => makeRecord(2500 + i, 6000));
    const result = await run(sink, [...small, ...large], { batchMaxEntries: 5000, batchMaxBytes: 50_000_000 });
    expect(result.exported).toBe(4000);
    expect(dd.ids.unique).toBe(4000);
    expect(Math.max(...dd.requests.map((r) => r.entries))).toBe(1000);
    expect(Math.max(...dd.requests.map((r) => r.bytes))).toBeLessThanOrEqual(5_000_000);
    expect(Math.max(...dd.requests.map((r) => r.bytes))).toBeGreaterThan(4_500_000); // cut by bytes, not count
  });

  it('splits a batch answered 413 and loses nothing', async () => {
    const { dd, sink } = await setup({ maxPayloadBytes: 60_000 });
    const result = await run(sink, makeRecords(500), { batchMaxEntries: 500 });
    expect(result.exported).toBe(500);
    expect(dd.ids.unique).toBe(500);
    expect(dd.ids.duplicates).toBe(0);
    expect(Math.max(...dd.requests.map((r) => r.bytes))).toBeLessThanOrEqual(60_000);
  });

  it('retries 429 with Retry-After through dropped connections, gzip on', async () => {
    const { dd, sink, server } = await setup(
      { seed: 3, failRate: 0.2, failStatus: 429, retryAfterSeconds: 0, dropRate: 0.1 },
      { gzip: true },
    );
    const result = await run(sink, makeRecords(3000), { batchMaxEntries: 100 });
    expect(server.faults.failed + server.faults.dropped).toBeGreaterThan(3);
    expect(result.exported).toBe(3000);
    expect(dd.ids.unique).toBe(3000);
    expect(dd.ids.duplicates).toBe(0);
    expect(dd.requests.every((r) => r.gzip)).toBe(true);
  });

  it('retries 503 (the first requests and a share of the rest)', async () => {
    const { dd, sink, server } = await setup({ failFirst: 2, failStatus: 503, seed: 4, failRate: 0.1 });
    const result = await run(sink, makeRecords(500), { batchMaxEntries: 50 });
    expect(server.faults.failed).toBeGreaterThanOrEqual(2);
    expect(result.retries).toBeGreaterThanOrEqual(2);
    expect(dd.ids.unique).toBe(500);
  });

  it('refuses a log over 1 MB, naming the entry, before sending anything', async () => {
    const { sink, server } = await setup();
    const records = [makeRecord(0), makeRecord(1, 1_100_000)];
    const error = await run(sink, records).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/^Datadog accepts logs up to 1 MB; entry id 1001 is \d+ bytes$/);
    expect(server.requestCount).toBe(0);
  });

  it('stops on a bad API key without echoing it', async () => {
    const secret = '0123456789abcdef0123456789abcdef';
    const { server } = await setup();
    const sink = new DatadogSink({ url: server.url, apiKey: secret });
    cleanups.push(() => sink.close());
    const error = await run(sink, makeRecords(3000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/^Datadog rejected the credentials \(HTTP 403: .*Forbidden/);
    expect(String((error as Error).stack)).not.toContain(secret);
    expect(server.requestCount).toBeLessThanOrEqual(3);
  });

  it('chunks by count and bytes', () => {
    expect(chunkRanges(Array(2500).fill(10))).toEqual([[0, 1000], [1000, 2000], [2000, 2500]]);
    expect(chunkRanges([3_000_000, 1_999_997, 1])).toEqual([[0, 2], [2, 3]]); // exactly 5,000,000 bytes fits
    expect(chunkRanges([3_000_000, 1_999_998, 1])).toEqual([[0, 1], [1, 3]]);
    expect(chunkRanges([])).toEqual([]);
  });
});
