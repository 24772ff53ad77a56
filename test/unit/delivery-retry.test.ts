import { describe, expect, it } from 'vitest';
import { backoffMs, DEFAULT_RETRY_POLICY, nextRetryDelay } from '../../src/delivery/retry.js';
import { parseRetryAfter } from '../../src/sinks/http.js';

const policy = { baseMs: 500, capMs: 30_000, maxAttempts: 10, maxRetryMs: 300_000 };

describe('backoffMs (full jitter)', () => {
  it('stays within [0, min(cap, base * 2^(retry-1))]', () => {
    for (let retry = 1; retry <= 12; retry += 1) {
      const ceiling = Math.min(30_000, 500 * 2 ** (retry - 1));
      expect(backoffMs(retry, policy, () => 0)).toBe(0);
      expect(backoffMs(retry, policy, () => 0.999999)).toBeLessThan(ceiling);
      expect(backoffMs(retry, policy, () => 0.999999)).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });

  it('never exceeds the cap', () => {
    expect(backoffMs(50, policy, () => 0.999999)).toBeLessThan(30_000);
  });

  it('has sane defaults', () => {
    expect(DEFAULT_RETRY_POLICY).toMatchObject({ baseMs: 500, capMs: 30_000, maxRetryMs: 300_000 });
  });
});

describe('nextRetryDelay', () => {
  it('uses the backoff when the server gave no Retry-After', () => {
    expect(nextRetryDelay({ attempts: 3, startedAt: 0 }, undefined, policy, 1000, () => 0.5)).toBe(1000);
  });

  it('honours Retry-After, even beyond the backoff cap', () => {
    expect(nextRetryDelay({ attempts: 1, startedAt: 0 }, 45_000, policy, 0, () => 0.5)).toBe(45_000);
  });

  it('gives up after maxAttempts', () => {
    expect(nextRetryDelay({ attempts: 10, startedAt: 0 }, undefined, policy, 0, () => 0)).toBeUndefined();
    expect(nextRetryDelay({ attempts: 9, startedAt: 0 }, undefined, policy, 0, () => 0)).toBe(0);
  });

  it('gives up when the wait would overrun the retry budget', () => {
    expect(nextRetryDelay({ attempts: 2, startedAt: 0 }, 120_000, policy, 200_000)).toBeUndefined();
    expect(nextRetryDelay({ attempts: 2, startedAt: 0 }, 100_000, policy, 200_000)).toBe(100_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-25T18:00:00Z');
  it('reads delta seconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });
  it('reads an HTTP date', () => {
    expect(parseRetryAfter('Wed, 25 Nov 2026 18:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 17:00:00 GMT', now)).toBe(0);
  });
  it('ignores garbage', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});
