/**
 * How the first SIGINT or SIGTERM ends a run. By default main.ts ends it at once: list and the demo's start-up have
 * nothing to finish. A command that stops at a safe point itself (prune finishes its batch, export saves its
 * checkpoint, show prints nothing) declares it with {@link deferInterrupts}; until it has a connection to PostgreSQL
 * it has done nothing either, so the run still ends at once before then (a server that never answers, the demo).
 */
const state = { deferred: false, connected: false };

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
