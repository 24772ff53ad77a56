/**
 * How the first SIGINT or SIGTERM ends a run. By default main.ts ends it at once: list and the demo's start-up have
 * nothing to finish. A command that stops at a safe point itself (prune finishes its batch, export saves its
 * checkpoint, show prints nothing) declares it with {@link deferInterrupts}; until it has a connection to PostgreSQL
 * it has done nothing either, so the run still ends at once before then (a server that never answers, the demo).
 */
const state: { deferred: boolean; connected: boolean; ending: boolean; cancel?: () => Promise<void>; stderr?: Stderr } = { deferred: false, connected: false, ending: false };

/** The running command watches `io.signal` and stops at a safe point once it is connected. */
export function deferInterrupts(): void {
  state.deferred = true;
}

/**
 * A connection to PostgreSQL was made (pool.ts): from now on a deferring command has work to finish. `cancel` asks
 * the server to stop what the connections run: a run ended at once calls it, so no backend is left behind.
 */
export function markConnected(cancel: () => Promise<void>): void {
  state.connected = true;
  state.cancel = cancel;
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
export function endInterruptedRun(signal: NodeJS.Signals, stdout: QueuedOutput, stderr: Stderr, exit: (code: number) => void): void {
  if (state.ending) return exitInterrupted(signal, stdout, state.stderr ?? stderr, exit);
  state.ending = true;
  stdout.write = (() => false) as QueuedOutput['write'];
  const deadline = Date.now() + LINE_FLUSH_BOUND_MS;
  // A statement waiting for a lock stays queued on the server after the process is gone: cancel it first (bounded).
  // The command then fails with the server's "canceling statement": the run's one line is the interruption's.
  let cancelling = state.cancel !== undefined;
  if (cancelling) stderr = muteRest(stderr);
  const cancelled = () => {
    cancelling = false;
  };
  void state.cancel?.().then(cancelled, cancelled);
  const settle = (): void => {
    if ((stdout.writableLength > 0 || cancelling) && Date.now() < deadline) {
      setTimeout(settle, FLUSH_POLL_MS);
      return;
    }
    exitInterrupted(signal, stdout, stderr, exit);
  };
  settle();
}

/**
 * After the first signal to a command that stops at a safe point itself (export, follow): it awaits room in stdout
 * before it can stop, so a reader that takes nothing held Ctrl-C forever. Once stdout's queue has not moved for
 * {@link LINE_FLUSH_BOUND_MS}, the run ends as {@link endInterruptedRun} ends it after its bound. A command that
 * stops in time ends the run itself: the check is unref'd and keeps nothing alive.
 */
export function watchStuckOutput(signal: NodeJS.Signals, stdout: QueuedOutput, stderr: Stderr, exit: (code: number) => void): void {
  let queued = stdout.writableLength;
  let since = Date.now();
  const timer = setInterval(() => {
    if (stdout.writableLength === 0 || stdout.writableLength !== queued) {
      [queued, since] = [stdout.writableLength, Date.now()];
      return;
    }
    if (Date.now() - since < LINE_FLUSH_BOUND_MS) return;
    clearInterval(timer);
    state.ending = true;
    exitInterrupted(signal, stdout, stderr, exit);
  }, FLUSH_POLL_MS * 10);
  timer.unref();
}

type Stderr = { write(text: string): unknown };

/** `stderr` with its writes dropped from now on; the writer returned still writes (for the run's last line). */
function muteRest(stderr: Stderr): Stderr {
  const write = stderr.write.bind(stderr);
  stderr.write = () => true;
  state.stderr = { write };
  return state.stderr;
}

function exitInterrupted(signal: NodeJS.Signals, stdout: QueuedOutput, stderr: Stderr, exit: (code: number) => void): void {
  const cut = stdout.writableLength > 0 ? `; stdout's reader did not take the rest within ${LINE_FLUSH_BOUND_MS / 1000} s: the last line may be cut` : '';
  stderr.write(`error: interrupted (${signal})${cut}\n`);
  exit(130);
}
