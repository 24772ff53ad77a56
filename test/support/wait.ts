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
