import { describe, expect, it } from 'vitest';
import { deliver, deliveryWindow } from '../../src/delivery/pipeline.js';
import type { Clock } from '../../src/delivery/retry.js';
import { RuntimeError } from '../../src/errors.js';
import type { SendOutcome, Sink } from '../../src/sinks/types.js';
import { makeRecords, streamOf } from '../support/fake-records.js';
import type { ExportRecord, Position } from '../../src/domain.js';

type Script = (records: readonly ExportRecord[], call: number, signal: AbortSignal) => Promise<SendOutcome>;

/** An in-memory sink whose answers the test scripts. */
class ScriptedSink implements Sink {
  readonly name = 'Test sink';
  readonly defaults = { maxEntries: 2, maxBytes: 1e9 };
  readonly calls: string[][] = [];
  closed = false;
  constructor(private readonly script: Script) {}
  send(records: readonly ExportRecord[], signal: AbortSignal): Promise<SendOutcome> {
    this.calls.push(records.map((r) => r.id));
    return this.script(records, this.calls.length - 1, signal);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A clock that never waits: sleeping only moves time forward. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal.aborted) throw new Error('aborted');
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** A clock whose sleeps end only when the test moves time forward. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let sleepers: { until: number; wake: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(new Error('aborted'));
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        sleepers.push({ until: now + ms, wake: resolve });
      }),
    advance(ms) {
      now += ms;
      const due = sleepers.filter((s) => s.until <= now);
      sleepers = sleepers.filter((s) => s.until > now);
      for (const sleeper of due) sleeper.wake();
    },
  };
}

const delivered: SendOutcome = { kind: 'delivered', duplicates: 0 };
const pos = (r: ExportRecord): Position => ({ timestamp: r.timestamp, id: r.id });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Waits (boundedly) until `condition` holds. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i += 1) await tick();
  if (!condition()) throw new Error('condition not reached');
}

describe('deliver', () => {
  it('ships every record in batches and checkpoints the end', async () => {
    const records = makeRecords(7);
    const sink = new ScriptedSink(async () => delivered);
    const checkpoints: Position[] = [];
    const progress: number[] = [];
    const result = await deliver({
      records: streamOf(records),
      sink,
      concurrency: 2,
      onCheckpoint: (p) => void checkpoints.push(p),
      onProgress: (stats) => void progress.push(stats.exported),
    });
    expect(sink.calls.flat()).toEqual(records.map((r) => r.id));
    expect(progress).toEqual([2, 4, 6, 7]);
    expect(result).toMatchObject({ exported: 7, batches: 4, retries: 0, duplicates: 0, interrupted: false });
    expect(result.first).toEqual(pos(records[0]!));
    expect(result.last).toEqual(pos(records[6]!));
    expect(checkpoints.at(-1)).toEqual(pos(records[6]!));
  });

  it('checkpoints only the contiguous prefix when batches complete out of order', async () => {
    const records = makeRecords(8); // batches: [0,1] [2,3] [4,5] [6,7]
    const gates = [deferred<SendOutcome>(), deferred<SendOutcome>(), deferred<SendOutcome>(), deferred<SendOutcome>()];
    const sink = new ScriptedSink((_r, call) => gates[call]!.promise);
    const checkpoints: Position[] = [];
    const run = deliver({ records: streamOf(records), sink, concurrency: 3, onCheckpoint: (p) => void checkpoints.push(p) });
    await waitFor(() => sink.calls.length === 1);
    gates[0]!.resolve(delivered); // the first batch goes alone, then three at a time
    await waitFor(() => sink.calls.length === 4);
    gates[1]!.resolve(delivered);
    gates[3]!.resolve(delivered);
    await waitFor(() => checkpoints.length === 2);
    for (let i = 0; i < 5; i += 1) await tick();
    expect(checkpoints).toEqual([pos(records[1]!), pos(records[3]!)]); // batch 4 done, batch 3 not: stay after batch 2
    gates[2]!.resolve(delivered);
    const result = await run;
    expect(checkpoints.at(-1)).toEqual(pos(records[7]!));
    expect(result.last).toEqual(pos(records[7]!));
  });

  it('sends the first batch alone, so a bad token costs one request', async () => {
    const sink = new ScriptedSink(async () => ({ kind: 'fatal', reason: 'Test sink rejected the token (HTTP 401)' }));
    await expect(deliver({ records: streamOf(makeRecords(100)), sink, concurrency: 8 })).rejects.toThrow('HTTP 401');
    expect(sink.calls).toHaveLength(1);
  });

  it('never has more than `concurrency` sends in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const sink = new ScriptedSink(async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await tick();
      inFlight -= 1;
      return delivered;
    });
    await deliver({ records: streamOf(makeRecords(40)), sink, concurrency: 3 });
    expect(peak).toBe(3);
  });

  it('retries with backoff, honours Retry-After and resends only the remaining records', async () => {
    const records = makeRecords(2);
    const clock = fakeClock();
    const answers: SendOutcome[] = [
      { kind: 'retry', reason: 'HTTP 503', retryAfterMs: 7000 },
      { kind: 'retry', reason: 'item 429', remaining: [records[1]!], duplicates: 1 },
      delivered,
    ];
    const sink = new ScriptedSink(async (_r, call) => answers[call]!);
    const result = await deliver({ records: streamOf(records), sink, clock, random: () => 0.5 });
    expect(sink.calls).toEqual([['1000', '1001'], ['1000', '1001'], ['1001']]);
    expect(clock.sleeps).toEqual([7000, 500]); // Retry-After, then jittered backoff of the 2nd retry (0.5 * 1000)
    expect(result).toMatchObject({ exported: 2, retries: 2, duplicates: 1, batches: 1 });
  });

  it('stops on a fatal answer with a RuntimeError carrying what the sink said, keeping the confirmed prefix', async () => {
    const records = makeRecords(6);
    const sink = new ScriptedSink(async (_r, call) => (call === 1 ? { kind: 'fatal', reason: 'Test sink rejected the token (HTTP 403)' } : delivered));
    const checkpoints: Position[] = [];
    const error = await deliver({ records: streamOf(records), sink, concurrency: 1, onCheckpoint: (p) => void checkpoints.push(p) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toBe('Test sink rejected the token (HTTP 403)');
    expect(sink.calls).toHaveLength(2);
    expect(checkpoints).toEqual([pos(records[1]!)]);
  });

  it('gives up when the retry budget runs out, naming the last answer', async () => {
    const clock = fakeClock();
    const sink = new ScriptedSink(async () => ({ kind: 'retry', reason: 'Test sink answered HTTP 503: busy' }));
    const error = await deliver({
      records: streamOf(makeRecords(2)),
      sink,
      clock,
      random: () => 0.999,
      retry: { baseMs: 1000, capMs: 1000, maxAttempts: 100, maxRetryMs: 5000 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/gave up on 2 entries .* after 6 attempts .*last answer: Test sink answered HTTP 503: busy/);
    expect(sink.calls).toHaveLength(6);
  });

  it('on abort stops taking records, lets in-flight batches finish, and checkpoints them', async () => {
    const controller = new AbortController();
    const gate = deferred<SendOutcome>();
    const sink = new ScriptedSink((_r, call) => (call === 0 ? Promise.resolve(delivered) : gate.promise));
    const checkpoints: Position[] = [];
    const records = makeRecords(100);
    const run = deliver({ records: streamOf(records), sink, concurrency: 2, signal: controller.signal, onCheckpoint: (p) => void checkpoints.push(p) });
    await waitFor(() => sink.calls.length === 3);
    controller.abort();
    gate.resolve(delivered);
    const result = await run;
    expect(result.interrupted).toBe(true);
    expect(sink.calls).toHaveLength(3);
    expect(result.exported).toBe(6);
    expect(checkpoints.at(-1)).toEqual(pos(records[5]!));
  });

  it('on abort cancels in-flight requests after the grace period', async () => {
    const controller = new AbortController();
    const sink = new ScriptedSink(
      (_r, _c, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'retry', reason: 'aborted' }))),
    );
    const run = deliver({ records: streamOf(makeRecords(10)), sink, signal: controller.signal, abortGraceMs: 10 });
    await waitFor(() => sink.calls.length === 1);
    controller.abort();
    const result = await run;
    expect(result).toMatchObject({ interrupted: true, exported: 0, batches: 0 });
    expect(result.last).toBeUndefined();
  });

  it('does not wait for a stuck source once aborted', async () => {
    const controller = new AbortController();
    async function* stuck(): AsyncGenerator<ExportRecord> {
      yield makeRecords(1)[0]!;
      await new Promise(() => undefined);
    }
    const sink = new ScriptedSink(async () => delivered);
    const run = deliver({ records: stuck(), sink, batchMaxEntries: 1, signal: controller.signal });
    await waitFor(() => sink.calls.length === 1);
    setTimeout(() => controller.abort(), 20);
    const result = await run;
    expect(result).toMatchObject({ interrupted: true, exported: 1 });
  });

  it('reports a failing source after checkpointing what was delivered', async () => {
    async function* failing(): AsyncGenerator<ExportRecord> {
      yield* makeRecords(4);
      throw new Error('connection terminated');
    }
    const checkpoints: Position[] = [];
    const sink = new ScriptedSink(async () => delivered);
    await expect(deliver({ records: failing(), sink, onCheckpoint: (p) => void checkpoints.push(p) })).rejects.toThrow('connection terminated');
    expect(checkpoints.at(-1)?.id).toBe('1003');
  });

  it('stops when writing the checkpoint fails', async () => {
    const sink = new ScriptedSink(async () => delivered);
    const run = deliver({
      records: streamOf(makeRecords(50)),
      sink,
      concurrency: 1,
      onCheckpoint: async () => {
        throw new RuntimeError('cannot write checkpoint file x: ENOSPC');
      },
    });
    await expect(run).rejects.toThrow('ENOSPC');
    expect(sink.calls.length).toBeLessThan(25);
  });

  describe('window: what a kill can resend', () => {
    // makeRecords ids start at 1000; the sink takes 2 records a batch.
    const batchOf = (records: readonly ExportRecord[]): number => (Number(records[0]!.id) - 1000) / 2;

    it.each([
      ['with a checkpoint file', true],
      ['without one', false],
    ])('a batch stuck in retries stops every batch past the window (%s), then the run completes', async (_name, withFile) => {
      const concurrency = 2;
      const window = deliveryWindow(concurrency);
      const stuck = 3;
      const records = makeRecords(60); // 30 batches
      const clock = manualClock();
      let written = 0; // batches covered by the last checkpoint written
      const violations: string[] = [];
      const sink = new ScriptedSink(async (batch) => {
        const seq = batchOf(batch);
        if (withFile && seq >= written + window) violations.push(`batch ${seq} sent with ${written} written`);
        await tick();
        if (seq === stuck && clock.now() < 20_000) return { kind: 'retry', reason: 'HTTP 503', retryAfterMs: 1000 };
        return delivered;
      });
      const onCheckpoint = async (p: Position): Promise<void> => {
        await tick();
        written = (records.findIndex((r) => r.id === p.id) + 1) / 2;
      };
      const run = deliver({ records: streamOf(records), sink, concurrency, clock, retry: { maxAttempts: 100 }, onCheckpoint: withFile ? onCheckpoint : undefined });
      let done = false;
      void run.finally(() => (done = true));
      const started = (): number[] => [...new Set(sink.calls.map((ids) => (Number(ids[0]) - 1000) / 2))].sort((a, b) => a - b);
      for (let second = 0; second < 19; second += 1) {
        for (let i = 0; i < 20; i += 1) await tick();
        // Batches stuck..stuck+window-1 may be sent: the stuck one and window-1 after it; not one more.
        expect(started()).toEqual(Array.from({ length: stuck + window }, (_, i) => i));
        clock.advance(1000);
      }
      for (let second = 0; second < 10 && !done; second += 1) {
        for (let i = 0; i < 200 && !done; i += 1) await tick();
        clock.advance(1000);
      }
      const result = await run;
      expect(violations).toEqual([]);
      expect(started()).toHaveLength(30);
      expect(sink.calls.filter((ids) => ids[0] === '1006').length).toBeGreaterThanOrEqual(19); // the stuck batch, retried each second
      expect(sink.calls.length - sink.calls.filter((ids) => ids[0] === '1006').length).toBe(29); // every other batch once
      expect(result.last).toEqual(pos(records[59]!));
      if (withFile) expect(written).toBe(30);
    });

    it('counts from the checkpoint written, not the one confirmed: a slow write holds the window', async () => {
      const gate = deferred<void>();
      const sink = new ScriptedSink(async () => delivered);
      const writes: string[] = [];
      const run = deliver({
        records: streamOf(makeRecords(40)),
        sink,
        concurrency: 3,
        onCheckpoint: async (p) => {
          await gate.promise;
          writes.push(p.id);
        },
      });
      await waitFor(() => sink.calls.length >= deliveryWindow(3));
      for (let i = 0; i < 50; i += 1) await tick();
      expect(sink.calls).toHaveLength(deliveryWindow(3)); // every batch confirmed, none written: the window is full
      gate.resolve();
      const result = await run;
      expect(sink.calls).toHaveLength(20);
      expect(writes.at(-1)).toBe('1039');
      expect(result.batches).toBe(20);
    });

    it('is never narrower than the batches in flight', async () => {
      let inFlight = 0;
      let peak = 0;
      const sink = new ScriptedSink(async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await tick();
        inFlight -= 1;
        return delivered;
      });
      await deliver({ records: streamOf(makeRecords(40)), sink, concurrency: 3, window: 1 });
      expect(peak).toBe(3);
    });
  });
});
