import type { CliIo } from '../io.js';
import { InterruptedError } from '../errors.js';

/** Whether to ask before deleting: a person at a terminal (stdin and stderr), not cron or CI, and no `--yes`. */
export function isInteractive(io: CliIo): boolean {
  return io.stderrIsTty && io.stdin?.isTTY === true;
}

/**
 * Asks a yes/no question on stderr and reads the answer from stdin; only "y" or "yes" agree. Ctrl-C at the prompt
 * (io.signal) is an interruption, not a "no".
 */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const input = io.stdin as NodeJS.ReadableStream;
  const rl = createInterface({ input, output: io.stderr, terminal: io.stdin?.isTTY === true });
  try {
    const answer = await rl.question(`${question} [y/N] `, io.signal ? { signal: io.signal } : {});
    return /^\s*y(es)?\s*$/i.test(answer);
  } catch (error) {
    if (io.signal?.aborted) throw new InterruptedError('interrupted at the confirmation prompt; nothing was deleted');
    throw error;
  } finally {
    rl.close();
  }
}
