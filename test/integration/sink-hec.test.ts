import { afterEach, describe, expect, it } from 'vitest';
import { deliver, type DeliverOptions } from '../../src/delivery/pipeline.js';
import { RuntimeError } from '../../src/errors.js';
import { SplunkHecSink, type SplunkHecOptions } from '../../src/sinks/splunk-hec.js';
import type { Sink } from '../../src/sinks/types.js';
import { FakeHec, type FakeHecOptions } from '../support/fake-hec.js';
import { makeRecords, streamOf } from '../support/fake-records.js';
import type { FakeServer } from '../support/fake-server.js';

const TOKEN = 'hec-token';
const FAST_RETRY = { baseMs: 5, capMs: 40, maxAttempts: 12, maxRetryMs: 20_000 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(fake: FakeHecOptions = {}, sinkOptions: Partial<SplunkHecOptions> = {}): Promise<{ server: FakeServer; hec: FakeHec; sink: Sink }> {
  const { server, hec } = await FakeHec.start({ token: TOKEN, ...fake });
  const sink = new SplunkHecSink({ url: server.url, token: TOKEN, host: 'ci-runner', timeoutMs: 2000, ...sinkOptions });
  cleanups.push(() => server.close(), () => sink.close());
  return { server, hec, sink };
}

const run = (sink: Sink, count: number, extra: Partial<DeliverOptions> = {}) =>
  deliver({ records: streamOf(makeRecords(count)), sink, concurrency: 4, batchMaxEntries: 50, retry: FAST_RETRY, ...extra });

describe('Splunk HEC sink', () => {
  it('sends concatenated events with the entry verbatim, metadata and flat indexed fields', async () => {
    const { hec, server } = await setup();
    const sink = new SplunkHecSink({ url: `${server.url}/services/collector/event`, token: TOKEN, host: 'ci-runner', index: 'audit' });
    cleanups.push(() => sink.close());
    const records = makeRecords(120);
    const result = await deliver({ records: streamOf(records), sink, batchMaxEntries: 50 });
    expect(result).toMatchObject({ exported: 120, batches: 3 });
    expect(hec.ids.unique).toBe(120);
    expect(hec.ids.duplicates).toBe(0);
    const first = hec.events[0]!;
    expect(first).toEqual({
      time: Number((records[0]!.timeMs / 1000).toFixed(3)),
      host: 'ci-runner',
      source: 'api7-audit',
      sourcetype: 'api7:audit',
      index: 'audit',
      fields: { audit_id: '1000', operation: 'create', resource_type: 'route', resource_id: 'r-0', source_ip: '10.0.0.1', audit_source: 'dashboard' },
      event: JSON.parse(records[0]!.json),
    });
    expect(hec.events[1]!.fields).toMatchObject({ operator: 'user-1' });
    expect(hec.channels.size).toBe(1);
  });

  it('accepts a base URL with a path prefix and decodes gzip bodies', async () => {
    const { server, hec } = await setup();
    const sink = new SplunkHecSink({ url: `${server.url}/`, token: TOKEN, gzip: true });
    cleanups.push(() => sink.close());
    const result = await run(sink, 300);
    expect(result.exported).toBe(300);
    expect(hec.ids.unique).toBe(300);
    expect(server.bytesReceived).toBeLessThan(300 * 400);
  });

  it('delivers every record through busy servers, dropped connections and slow replies', async () => {
    const { hec, sink, server } = await setup(
      { seed: 42, failRate: 0.2, dropRate: 0.1, dropAfterStore: true, slowRate: 0.05, slowMs: 600 },
      { timeoutMs: 300 },
    );
    const result = await run(sink, 2000);
    expect(server.faults.failed + server.faults.dropped + server.faults.slow).toBeGreaterThan(5);
    expect(hec.ids.unique).toBe(2000);
    expect(result.exported).toBe(2000);
    expect(result.retries).toBeGreaterThan(0);
    // A dropped or slow reply after storing makes the resend a duplicate: allowed, but only for those.
    expect(hec.ids.duplicates).toBeLessThanOrEqual((server.faults.dropped + server.faults.slow) * 50);
  });

  it('stops at once on a bad token, saying what Splunk answered without echoing the token', async () => {
    const secret = 'f3a1c2e4-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
    const { server } = await setup({ token: 'the-right-one' });
    const sink = new SplunkHecSink({ url: server.url, token: secret });
    cleanups.push(() => sink.close());
    const error = await run(sink, 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toBe('Splunk HEC rejected the token (HTTP 403, code 4: Invalid token)');
    expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain(secret);
    expect(server.requestCount).toBeLessThanOrEqual(3);
  });

  it('reports an index the token may not write to as fatal', async () => {
    const { sink, server } = await setup({}, { index: 'secret-index' });
    await expect(run(sink, 200)).rejects.toThrow('Splunk HEC refused the batch (HTTP 400, code 7: Incorrect index; first rejected entry id 1000)');
    expect(server.requestCount).toBeLessThanOrEqual(4);
  });

  it('never leaks the token in transport errors', async () => {
    const secret = 'very-secret-token-value';
    const sink = new SplunkHecSink({ url: 'http://127.0.0.1:9', token: secret, timeoutMs: 500 });
    cleanups.push(() => sink.close());
    const error = await run(sink, 10, { retry: { baseMs: 1, capMs: 2, maxAttempts: 2, maxRetryMs: 1000 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/gave up .* connection refused/);
    expect(String((error as Error).stack)).not.toContain(secret);
  });

  it('stops at once when the token cannot even go in a header', async () => {
    const secret = 'abc-token\nInjected: yes';
    const { server } = await setup();
    const sink = new SplunkHecSink({ url: server.url, token: secret });
    cleanups.push(() => sink.close());
    const error = await run(sink, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/invalid request \(check the URL and credentials/);
    expect(String((error as Error).stack)).not.toContain('abc-token');
    expect(server.requestCount).toBe(0);
  });

  describe('indexer acknowledgment', () => {
    it('counts a batch delivered only once acked, polling acks for all batches together', async () => {
      const { hec, sink } = await setup({ ack: true, ackAfterPolls: 2 }, { ack: { pollMs: 10, timeoutMs: 5000 } });
      const result = await run(sink, 500);
      expect(result.exported).toBe(500);
      expect(hec.ids.unique).toBe(500);
      expect(hec.ids.duplicates).toBe(0);
      expect(hec.ackQueries).toBeGreaterThanOrEqual(2);
      expect(hec.ackQueries).toBeLessThan(10 * 2);
    });

    it('resends a batch whose ack never comes, and counts the duplicates on the server', async () => {
      const { hec, sink } = await setup({ ack: true, loseAckRate: 0.3 }, { ack: { pollMs: 10, timeoutMs: 100 } });
      const result = await run(sink, 500);
      expect(result.exported).toBe(500);
      expect(result.retries).toBeGreaterThan(0);
      expect(hec.ids.unique).toBe(500);
      expect(hec.ids.duplicates).toBeGreaterThan(0);
    });

    it('fails clearly when the token does not have acknowledgment enabled', async () => {
      const { sink } = await setup({ ack: false }, { ack: { pollMs: 10 } });
      await expect(run(sink, 10)).rejects.toThrow(/returned no ackId/);
    });
  });
});
