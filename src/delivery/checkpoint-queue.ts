import type { Position } from '../domain.js';

/**
 * Turns out-of-order batch confirmations into in-order checkpoints: batch N's position is written only once
 * batches 0..N are all confirmed. Writes run one at a time; when several positions pile up meanwhile, only the
 * newest is written. `durable` says how many batches a written checkpoint covers: what a kill cannot resend.
 */
export class CheckpointQueue {
  /** Called once if a write fails; no further writes happen. */
  onError: (error: unknown) => void = () => undefined;
  private readonly confirmed = new Map<number, Position>();
  private nextSeq = 0;
  private latest: { seq: number; position: Position } | undefined;
  private durableCount = 0;
  private writing: Promise<void> = Promise.resolve();
  private running = false;
  private failed = false;
  private wakers: (() => void)[] = [];

  constructor(
    private readonly write: ((position: Position) => void | Promise<void>) | undefined,
    private readonly onAdvance: (position: Position) => void,
  ) {}

  /** Batches 0..durable-1 are covered by a written checkpoint (without a writer: confirmed, nothing to write). */
  get durable(): number {
    return this.durableCount;
  }

  /** Batch `seq` (numbered from 0 in stream order) is confirmed; `position` is its last record. */
  confirm(seq: number, position: Position): void {
    this.confirmed.set(seq, position);
    let advanced: Position | undefined;
    for (let p = this.confirmed.get(this.nextSeq); p !== undefined; p = this.confirmed.get(this.nextSeq)) {
      this.confirmed.delete(this.nextSeq);
      this.nextSeq += 1;
      advanced = p;
    }
    if (advanced === undefined) return;
    this.onAdvance(advanced);
    if (this.write === undefined) return this.setDurable(this.nextSeq);
    this.latest = { seq: this.nextSeq, position: advanced };
    if (!this.running) this.writing = this.flush();
  }

  /** Resolves at the next change of `durable`, or when a write fails. */
  advanced(): Promise<void> {
    if (this.failed) return Promise.resolve();
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  /** Resolves when every position handed over so far is written (or a write failed). */
  async drain(): Promise<void> {
    while (this.running) await this.writing;
  }

  private setDurable(count: number): void {
    this.durableCount = count;
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
  }

  private async flush(): Promise<void> {
    this.running = true;
    try {
      while (this.latest !== undefined && this.write !== undefined && !this.failed) {
        const { seq, position } = this.latest;
        this.latest = undefined;
        try {
          await this.write(position);
          this.setDurable(seq);
        } catch (error) {
          this.failed = true;
          this.onError(error);
          this.setDurable(this.durableCount);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
