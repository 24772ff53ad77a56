import { setTimeout as delay } from 'node:timers/promises';

/** How long and how often one batch is retried before the run gives up. */
export interface RetryPolicy {
  /** First backoff ceiling; doubles with every retry. Default 500 ms. */
  baseMs: number;
  /** Largest backoff ceiling. Default 30 s. */
  capMs: number;
  /** Most attempts per batch, the first one included. Default 10. */
  maxAttempts: number;
  /** Most time from a batch's first attempt to the start of its last one. Default 5 min. */
  maxRetryMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { baseMs: 500, capMs: 30_000, maxAttempts: 10, maxRetryMs: 300_000 };

/** Time, injectable so tests run without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }),
};

/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^(retry-1))], `retry` counting from 1. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** State of one batch's retries. */
export interface RetryState {
  /** Attempts made so far (>= 1). */
  attempts: number;
  /** `clock.now()` at the first attempt. */
  startedAt: number;
}

/**
 * How long to wait before the next attempt, or `undefined` when the policy says stop. A server's Retry-After wins
 * over the backoff (a server asking for a pause gets it), but never stretches the budget.
 */
export function nextRetryDelay(
  state: RetryState,
  retryAfterMs: number | undefined,
  policy: RetryPolicy,
  now: number,
  random: () => number = Math.random,
): number | undefined {
  if (state.attempts >= policy.maxAttempts) return undefined;
  const wait = retryAfterMs ?? backoffMs(state.attempts, policy, random);
  if (now + wait - state.startedAt > policy.maxRetryMs) return undefined;
  return wait;
}
