import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Writable } from 'node:stream';
import type { CliIo } from '../io.js';
import { UsageError } from '../errors.js';

/** Where paged output goes, and how to wait for the reader to quit the pager. */
export interface Pager {
  out: Writable;
  /** Ends the pager's input and waits for it to exit (the user reading to the end, or pressing q). */
  close(): Promise<void>;
  /** True once the pager quit before reading everything: stop writing, this is not a failure. */
  quit(): boolean;
}

/**
 * The pager command as git and gh choose it: API7_AUDIT_PAGER, else PAGER (either set to '' or `cat`: none), else
 * `less` with LESS=FRX (quit if one screen, keep colours, leave the screen as it was) when less is on PATH and TERM
 * names a real terminal.
 * Undefined when stdout is not a terminal or `--no-pager` was given.
 */
export function pagerCommand(io: Pick<CliIo, 'env' | 'stdoutIsTty'>, noPager = false): string | undefined {
  if (!io.stdoutIsTty || noPager) return undefined;
  const chosen = io.env.API7_AUDIT_PAGER ?? io.env.PAGER;
  if (chosen !== undefined) return chosen.trim() === '' || chosen.trim() === 'cat' ? undefined : chosen;
  // less on a terminal it does not know (TERM unset or dumb) stops to ask for RETURN: no default pager there.
  const term = io.env.TERM ?? '';
  if (term === '' || term === 'dumb') return undefined;
  return onPath('less', io.env.PATH) ? 'less' : undefined;
}

/** Starts the pager (`sh -c COMMAND`, its output on this terminal); a command that fails to run shows sh's message. */
export function startPager(command: string, io: Pick<CliIo, 'env'>): Pager {
  const env = { ...io.env, LESS: io.env.LESS ?? 'FRX', LV: io.env.LV ?? '-c' };
  const child: ChildProcess = spawn('sh', ['-c', command], { stdio: ['pipe', 'inherit', 'inherit'], env });
  const input = child.stdin as Writable;
  let quit = false;
  // The reader pressing q closes the pipe: EPIPE on our side is the end of paging, not an error.
  input.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') quit = true;
  });
  let code: number | null = null;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (exitCode) => {
      code = exitCode;
      quit ||= !input.writableFinished;
      resolve();
    });
    child.on('error', () => resolve());
  });
  return {
    out: input,
    quit: () => quit,
    async close() {
      if (!input.destroyed) input.end();
      await exited;
      // sh's codes for a command not found or not executable: nothing was shown, and the user must hear why.
      if (code === 127 || code === 126) {
        throw new UsageError(`the pager '${command}' could not run (sh exit ${code}): set API7_AUDIT_PAGER or PAGER to a pager that runs, or pass --no-pager`);
      }
    },
  };
}

function onPath(name: string, path = ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
