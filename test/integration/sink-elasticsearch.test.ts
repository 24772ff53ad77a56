import { fromByteString } from '../../src/byte-string.js';
import { afterEach, describe, expect, it } from 'vitest';
import { deliver } from '../../src/delivery/pipeline.js';
import { RuntimeError } from '../../src/errors.js';
import { ElasticsearchSink, encodeBulkItem, type ElasticsearchOptions } from '../../src/sinks/elasticsearch.js';
import type { Sink } from '../../src/sinks/types.js';
import { FakeElastic, type FakeElasticOptions } from '../support/fake-elastic.js';
import { makeRecord, makeRecords, streamOf } from '../support/fake-records.js';
import type { FakeServer } from '../support/fake-server.js';
import type { ExportRecord } from '../../src/domain.js';

const KEY = 'es-key';
const FAST_RETRY = { baseMs: 5, capMs: 40, maxAttempts: 15, maxRetryMs: 20_000 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(fake: FakeElasticOptions = {}, options: Partial<ElasticsearchOptions> = {}): Promise<{ server: FakeServer; es: FakeElastic; sink: Sink }> {
  const { server, es } = await FakeElastic.start({ apiKey: KEY, ...fake });
  const sink = new ElasticsearchSink({ url: server.url, apiKey: KEY, timeoutMs: 2000, ...options });
  cleanups.push(() => server.close(), () => sink.close());
  return { server, es, sink };
}

const run = (sink: Sink, records: ExportRecord[]) =>
  deliver({ records: streamOf(records), sink, concurrency: 4, batchMaxEntries: 100, retry: FAST_RETRY });

describe('Elasticsearch sink', () => {
  it('splices @timestamp in as the first key without touching the rest of the entry', () => {
    const record = makeRecord(3);
    const encode = (r: ExportRecord): string => {
      let text = '';
      encodeBulkItem(r, '{"create":{"_index":"a","_id":', { addBytes: (bytes) => void (text += bytes) });
      return fromByteString(text);
    };
    const [action, doc, end] = encode(record).split('\n');
    expect(JSON.parse(action!)).toEqual({ create: { _index: 'a', _id: `api7-audit-1003-${record.timestamp}` } });
    expect(doc).toBe(`{"@timestamp":"${record.timestamp}",${record.json.slice(1)}`);
    expect(end).toBe('');
    const empty = encode({ ...record, jsonBytes: '{ }' }).split('\n')[1];
    expect(JSON.parse(empty!)).toEqual({ '@timestamp': record.timestamp });
    // A year outside 1-9999 goes as epoch milliseconds, which Elasticsearch's default date format reads.
    for (const timestamp of ['-000043-03-15T12:00:00.500000Z', '0000-12-31T23:59:59.999000Z', '+012026-01-01T00:00:00.000000Z']) {
      const far = { ...record, timestamp, timeMs: Date.parse(timestamp) };
      expect(JSON.parse(encode(far).split('\n')[1]!)['@timestamp'], timestamp).toBe(Date.parse(timestamp));
    }
  });

  it('bulk-creates every entry with a deterministic _id in the configured index', async () => {
    const { es, sink } = await setup({}, { index: 'audit-2026' });
    const records = makeRecords(350);
    const result = await run(sink, records);
    expect(result).toMatchObject({ exported: 350, duplicates: 0 });
    expect(es.ids.unique).toBe(350);
    expect(es.docs.get(`audit-2026/api7-audit-1000-${records[0]!.timestamp}`)).toEqual({ '@timestamp': records[0]!.timestamp, ...JSON.parse(records[0]!.json) });
    expect(es.firstDocLine?.startsWith('{"@timestamp":')).toBe(true);
  });

  it('counts 409 (already exists) as delivered duplicates on a re-run', async () => {
    const { es, sink } = await setup();
    const records = makeRecords(200);
    await run(sink, records.slice(0, 150));
    const again = await run(sink, records);
    expect(again).toMatchObject({ exported: 200, duplicates: 150 });
    expect(es.ids.unique).toBe(200);
    expect(es.docs.size).toBe(200);
  });

  it('retries only the items rejected with 429 and loses none', async () => {
    const { es, sink } = await setup({ itemRejectRate: 0.2, seed: 5 });
    const records = makeRecords(1000);
    const result = await run(sink, records);
    expect(result.exported).toBe(1000);
    expect(result.retries).toBeGreaterThan(0);
    expect(es.ids.unique).toBe(1000);
    // Only deferred items are resent: nothing reaches the index twice, so no 409 either.
    expect(result.duplicates).toBe(0);
    expect(es.received.duplicates).toBe(0);
  });

  it('survives 429/503 replies with Retry-After, dropped connections and slow replies, gzip on', async () => {
    const { es, sink, server } = await setup(
      { seed: 9, failRate: 0.15, failStatus: 429, retryAfterSeconds: 0, dropRate: 0.1, dropAfterStore: true, slowRate: 0.05, slowMs: 600 },
      { gzip: true, timeoutMs: 300 },
    );
    const result = await run(sink, makeRecords(1500));
    expect(server.faults.failed + server.faults.dropped + server.faults.slow).toBeGreaterThan(3);
    expect(es.ids.unique).toBe(1500);
    expect(result.exported).toBe(1500);
    // Resending what was stored before a lost reply is answered 409: counted, not stored twice.
    expect(result.duplicates).toBe(es.received.duplicates);
  });

  it('stops on a mapping error naming the entry and the error', async () => {
    const { sink } = await setup({ badIds: new Set(['1042']) });
    const error = await run(sink, makeRecords(300)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/^Elasticsearch refused entry id 1042 \(item status 400, mapper_parsing_exception: failed to parse field/);
  });

  it('stops on a bad API key in one request, without echoing the key', async () => {
    const secret = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
    const { server } = await setup();
    const sink = new ElasticsearchSink({ url: server.url, apiKey: secret });
    cleanups.push(() => sink.close());
    const error = await run(sink, makeRecords(500)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/^Elasticsearch rejected the credentials \(HTTP 401: security_exception: unable to authenticate/);
    expect(String((error as Error).stack)).not.toContain(secret);
    expect(server.requestCount).toBeLessThanOrEqual(3);
  });

  it('takes basic auth from the URL and scrubs the password', async () => {
    const { server } = await setup();
    const sink = new ElasticsearchSink({ url: server.url.replace('http://', 'http://elastic:s3cr3t-pass@') });
    cleanups.push(() => sink.close());
    const error = await run(sink, makeRecords(5)).catch((e: unknown) => e);
    expect((error as Error).message).toContain('HTTP 401');
    expect((error as Error).message).not.toContain('s3cr3t-pass');
  });
});
