import { setTimeout as sleep } from 'node:timers/promises';
import { excerpt, statusOutcome, type HttpReply } from './http.js';
import type { FatalOutcome, RetryOutcome } from './types.js';

/** Posts one ack query (`{"acks":[..]}`) on the sink's channel. */
export type AckQuery = (body: string, signal: AbortSignal) => Promise<HttpReply>;

export interface AckOptions {
  /** Delay between two ack queries. Default 1 s. */
  pollMs?: number;
  /** A batch whose ack has not come after this long is sent again (it may then be indexed twice). Default 60 s. */
  timeoutMs?: number;
}

type AckResult = 'acked' | RetryOutcome | FatalOutcome;

interface Waiter {
  deadline: number;
  resolve: (result: AckResult) => void;
}

/**
 * Splunk HEC indexer acknowledgment: every in-flight batch registers its `ackId`, and one loop asks for all of
 * them at once (`POST /services/collector/ack`), so acks cost one request per poll interval, not one per batch.
 */
export class HecAckPoller {
  private readonly waiters = new Map<number, Waiter>();
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly stop = new AbortController();
  private running = false;

  constructor(
    private readonly query: AckQuery,
    private readonly redact: (text: string) => string,
    options: AckOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Resolves once Splunk says `ackId` is indexed, or with the outcome to report when it will not. */
  wait(ackId: number, signal: AbortSignal): Promise<AckResult> {
    return new Promise<AckResult>((resolve) => {
      const onAbort = (): void => this.settle(ackId, { kind: 'retry', reason: 'aborted while waiting for the ack' });
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(ackId, {
        deadline: Date.now() + this.timeoutMs,
        resolve: (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
      });
      if (signal.aborted) onAbort();
      if (!this.running) void this.loop();
    });
  }

  /** Stops polling; pending batches are reported as not acknowledged. */
  close(): void {
    this.stop.abort();
    for (const id of [...this.waiters.keys()]) this.settle(id, { kind: 'retry', reason: 'sink closed before the ack' });
  }

  private settle(ackId: number, result: AckResult): void {
    const waiter = this.waiters.get(ackId);
    if (waiter === undefined) return;
    this.waiters.delete(ackId);
    waiter.resolve(result);
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.size > 0 && !this.stop.signal.aborted) {
        await sleep(this.pollMs, undefined, { signal: this.stop.signal }).catch(() => undefined);
        if (this.stop.signal.aborted) break;
        await this.pollOnce();
        this.expire();
      }
    } finally {
      this.running = false;
    }
  }

  private async pollOnce(): Promise<void> {
    const ids = [...this.waiters.keys()];
    if (ids.length === 0) return;
    let reply: HttpReply;
    try {
      reply = await this.query(`{"acks":[${ids.join(',')}]}`, this.stop.signal);
    } catch {
      return; // a lost poll is retried at the next tick; the deadline bounds it
    }
    const detail = excerpt(this.redact(reply.text));
    if (reply.status !== 200) {
      const outcome = statusOutcome('Splunk HEC ack', reply, detail);
      if (outcome.kind === 'fatal') for (const id of ids) this.settle(id, outcome);
      return;
    }
    let acks: Record<string, unknown> | undefined;
    try {
      acks = (JSON.parse(reply.text) as { acks?: Record<string, unknown> }).acks;
    } catch {
      acks = undefined;
    }
    if (acks === undefined || typeof acks !== 'object' || acks === null) {
      for (const id of ids) this.settle(id, { kind: 'fatal', reason: `Splunk HEC ack answered ${detail}` });
      return;
    }
    for (const id of ids) if (acks[String(id)] === true) this.settle(id, 'acked');
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, waiter] of this.waiters) {
      if (waiter.deadline <= now) {
        this.settle(id, { kind: 'retry', reason: `Splunk HEC did not acknowledge ackId ${id} within ${this.timeoutMs} ms` });
      }
    }
  }
}
