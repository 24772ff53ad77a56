/**
 * How the first SIGINT or SIGTERM ends a run. By default main.ts ends it at once: list and the demo's start-up have
 * nothing to finish. A command that stops at a safe point itself (prune finishes its batch, export saves its
 * checkpoint, show prints nothing) declares it with {@link deferInterrupts}; until it has a connection to PostgreSQL
 * it has done nothing either, so the run still ends at once before then (a server that never answers, the demo).
 */
const state = { deferred: false, connected: false, ending: false };

/** The running command watches `io.signal` and stops at a safe point once it is connected. */
export function deferInterrupts(): void {
  state.deferred = true;
}

/** A connection to PostgreSQL was made (pool.ts): from now on a deferring command has work to finish. */
export function markConnected(): void {
  state.connected = true;
}

/** Whether the first signal should end the run at once rather than be left to the command. */
export function interruptEndsRunAtOnce(): boolean {
  return !(state.deferred && state.connected);
}

/** How long an interrupted run waits for stdout's reader to take the lines already written (docs/decisions/011). */
export const LINE_FLUSH_BOUND_MS = 2000;
const FLUSH_POLL_MS = 10;

/** The stdout of the process as the end of a run sees it: a stream with bytes still queued for a slow pipe. */
export interface QueuedOutput {
  write: (...args: never[]) => boolean;
  readonly writableLength: number;
}

/**
 * Ends the run after a signal without cutting a line: every write to stdout is whole lines, and a pipe takes them
 * asynchronously, so exiting at once dropped the queued rest of a line the pipe had begun. New writes are dropped
 * (the command stops producing), the queued ones are let out for at most {@link LINE_FLUSH_BOUND_MS}, then `exit`.
 * A reader slower than that gets a note that the last line may be cut; a further signal exits now.
 */
export function endInterruptedRun(signal: NodeJS.Signals, stdout: QueuedOutput, stderr: { write(text: string): unknown }, exit: (code: number) => void): void {
  const message = `error: interrupted (${signal})`;
  const cutNote = (): string => (stdout.writableLength > 0 ? `; stdout's reader did not take the rest within ${LINE_FLUSH_BOUND_MS / 1000} s: the last line may be cut` : '');
  if (state.ending) {
    stderr.write(`${message}${cutNote()}\n`);
    exit(130);
    return;
  }
  state.ending = true;
  stdout.write = (() => false) as QueuedOutput['write'];
  const deadline = Date.now() + LINE_FLUSH_BOUND_MS;
  const settle = (): void => {
    if (stdout.writableLength > 0 && Date.now() < deadline) {
      setTimeout(settle, FLUSH_POLL_MS);
      return;
    }
    stderr.write(`${message}${cutNote()}\n`);
    exit(130);
  };
  settle();
}
