import type { CliIo } from '../io.js';
import { InterruptedError } from '../errors.js';

/** Whether to ask before changing anything: a person at a terminal (stdin and stderr), not cron or CI, and no `--yes`. */
export function isInteractive(io: CliIo): boolean {
  return io.stderrIsTty && io.stdin?.isTTY === true;
}

/**
 * Asks a yes/no question on stderr and reads the answer from stdin; only "y" or "yes" agree, and Ctrl-D (end of
 * input) is a no. Ctrl-C at the prompt is an interruption, not a "no": a SIGINT (io.signal), or on a terminal in raw
 * mode the ^C that readline reads instead.
 */
export async function confirm(io: CliIo, question: string, nothingDone = 'nothing was deleted'): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const input = io.stdin as NodeJS.ReadableStream;
  const rl = createInterface({ input, output: io.stderr, terminal: io.stdin?.isTTY === true });
  const ctrlC = new AbortController();
  rl.on('SIGINT', () => ctrlC.abort());
  const signal = io.signal ? AbortSignal.any([io.signal, ctrlC.signal]) : ctrlC.signal;
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal });
    return /^\s*y(es)?\s*$/i.test(answer);
  } catch (error) {
    if (signal.aborted) throw new InterruptedError(`interrupted at the confirmation prompt; ${nothingDone}`);
    // readline's AbortError for Ctrl-D on an empty line.
    if ((error as { code?: unknown }).code === 'ABORT_ERR') return false;
    throw error;
  } finally {
    rl.close();
  }
}
