import { describe, expect, it } from 'vitest';
import { nextBatchSize, type BatchSizing } from '../../src/commands/prune/batches.js';

const sizing: BatchSizing = { first: 1000, min: 100, max: 20_000, targetMs: 40 };

describe('adaptive prune batch size', () => {
  it('aims the next batch at the time budget from the speed of the last one', () => {
    expect(nextBatchSize(sizing, 4000, 40)).toBe(4000);
    expect(nextBatchSize(sizing, 4000, 50)).toBe(3200);
  });

  it('grows at most twofold per batch, up to the maximum', () => {
    expect(nextBatchSize(sizing, 1000, 4)).toBe(2000);
    expect(nextBatchSize(sizing, 15_000, 10)).toBe(20_000);
  });

  it('shrinks at once after a slow batch, but never below the minimum', () => {
    expect(nextBatchSize(sizing, 8000, 400)).toBe(800);
    expect(nextBatchSize(sizing, 200, 5000)).toBe(100);
  });

  it('treats a batch that took no measurable time as taking 1 ms', () => {
    expect(nextBatchSize(sizing, 1000, 0)).toBe(2000);
  });
});
