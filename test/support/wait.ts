import { expect } from 'vitest';
import type { CliResult, Running } from './cli.js';

/** Waiting in tests that watch a running binary: bounded in time, naming what did not happen. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The ids of NDJSON output, line by line. */
export const ndjsonIds = (text: string): string[] => text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id);

/** Ctrl-C (SIGINT) to a running binary, then its result; fails unless it exits 0 within `withinMs`. */
export async function interruptAtOnce(running: Running, withinMs = 3000): Promise<CliResult> {
  const stopping = Date.now();
  running.child.kill('SIGINT');
  const result = await running.result;
  expect(result.code, result.stderr).toBe(0);
  expect(Date.now() - stopping, 'Ctrl-C ends the run at once').toBeLessThan(withinMs);
  return result;
}
