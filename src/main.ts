import { setFlagsFromString } from 'node:v8';
import { CommanderError } from 'commander';
import type { CliIo } from './io.js';
import { buildProgram } from './cli.js';
import { CliError, DeclinedError } from './errors.js';
import { redactSecrets } from './secrets/redact.js';
import { sanitizeForTerminal } from './terminal-safe.js';
import { endInterruptedRun, interruptEndsRunAtOnce, watchStuckOutput } from './interrupt.js';

const EXIT_USAGE = 2;
const EXIT_RUNTIME = 1;

/**
 * Runs one command line and returns its exit code. The only place that decides exit codes: expected errors print
 * one line, anything else prints its message (and with --debug its stack) and exits 1.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const debug = argv.includes('--debug') || io.env.API7_AUDIT_DEBUG === '1';
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    return reportError(error, io, debug);
  }
}

function reportError(error: unknown, io: CliIo, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its one-line message (or the help/version text).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  const denied = isPermissionDenied(error);
  const raw = (error instanceof Error ? error.message || String(error) : String(error)) + (denied ? `: ${PERMISSION_HINT}` : '');
  // One line, whatever a flag, a config value or the server put in it: an escape sequence in `--since` must not
  // retitle or repaint the terminal, nor a newline forge a second line.
  const message = sanitizeForTerminal(redactSecrets(raw));
  // A declined prompt is the user's answer, not a failure: a plain line.
  io.stderr.write(error instanceof DeclinedError ? `${message}\n` : `error: ${message}\n`);
  if (debug && error instanceof Error && error.stack) io.stderr.write(`${redactSecrets(error.stack)}\n`);
  else if (!(error instanceof CliError) && !denied) io.stderr.write('(run with --debug for details)\n');
  return error instanceof CliError ? error.exitCode : EXIT_RUNTIME;
}

const PERMISSION_HINT = "the role lacks a privilege on it: every command needs SELECT, prune also DELETE (GRANT ... ON TABLE ... TO the role, or run as the table's owner)";

/** PostgreSQL's SQLSTATE 42501 (a missing GRANT): the user's setup, not a defect, so no --debug hint. */
function isPermissionDenied(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === '42501' && typeof (error as { severity?: unknown }).severity === 'string';
}

/** Wires `run` to the real process: streams, signals, and the exit code. */
export async function runProcess(): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    // The first signal asks a command that declared a safe point (interrupt.ts) to stop there; else, or on a second
    // signal, the run ends now (after the lines already begun): nothing is left half-done that a rerun would not redo.
    if (interrupts > 1 || interruptEndsRunAtOnce()) {
      endInterruptedRun(signal, process.stdout, process.stderr, (code) => process.exit(code));
      return;
    }
    controller.abort(new Error(`received ${signal}`));
    watchStuckOutput(signal, process.stdout, process.stderr, (code) => process.exit(code));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  // `api7-audit list --all | head` closes the pipe early: that is the reader's choice, not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    // Any other failure to write (a full disk: ENOSPC, EIO) is one line and exit 1, not an uncaught stack trace.
    process.stderr.write(`error: cannot write to stdout: ${error.message}\n`);
    process.exit(1);
  });
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stdoutIsTty: process.stdout.isTTY === true,
    stderrIsTty: process.stderr.isTTY === true,
    columns: process.stdout.columns,
    stdin: process.stdin,
    signal: controller.signal,
    limitHeapGrowth: () => setFlagsFromString('--heap-growing-percent=30'),
  };
  process.exitCode = await run(process.argv.slice(2), io);
  // The exit code is set; let sockets and file handles drain instead of cutting them off with process.exit(). The
  // signal handlers stay: Ctrl-C while stdout drains must not kill the process mid-line (interrupt.ts).
}
