import type { Writable } from 'node:stream';

/**
 * What a run may touch of the outside world. `main.ts` wires it to `process`; tests pass their own streams and
 * environment so that the whole CLI can run in-process.
 */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Where relative paths (config file, archive, checkpoint) are resolved. */
  cwd: string;
  /** stdout is a terminal: tables fit its width, colour is allowed unless NO_COLOR. */
  stdoutIsTty: boolean;
  /** stderr is a terminal: spinners and prompts are allowed. */
  stderrIsTty: boolean;
  /** Terminal width for tables; undefined when not a terminal. */
  columns?: number;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Aborted on SIGINT/SIGTERM; long-running commands stop at a safe point. */
  signal?: AbortSignal;
  /**
   * Process-wide: lets V8 grow the old space by at most 30 % at a time, for a long stream of short-lived strings
   * (export; docs/decisions/006-process-settings-at-the-entry.md). Set only by main.ts's runProcess, never in-process.
   */
  limitHeapGrowth?: () => void;
}
