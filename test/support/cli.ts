import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured streams, as `run` is called by the binary. */
export async function runCli(argv: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; tty?: boolean; columns?: number } = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (chunk: Buffer) => chunks.out.push(chunk));
  stderr.on('data', (chunk: Buffer) => chunks.err.push(chunk));
  const code = await run(argv, {
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    stdoutIsTty: options.tty ?? false,
    stderrIsTty: options.tty ?? false,
    columns: options.columns,
  });
  return { code, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') };
}

export const BIN = fileURLToPath(new URL('../../bin/api7-audit.js', import.meta.url));

/** A process started by {@link startProcess}: its output collected as it comes. */
export interface Running {
  child: ChildProcess;
  /** Settles when the process has closed; a signal without an exit code reads as 128. */
  result: Promise<CliResult>;
  stdout(): string;
  stderr(): string;
  exited(): boolean;
}

export interface StartOptions {
  /** Added to a bare environment that holds only PATH. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed with SIGKILL after this long at the latest (default 60 s), so no test hangs on it. */
  timeoutMs?: number;
}

/** Starts `command` with its output collected, for tests that act while it runs (signals, faults). */
export function startProcess(command: string, args: string[], options: StartOptions = {}): Running {
  const child = spawn(command, args, { cwd: options.cwd, env: { PATH: process.env.PATH, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let done = false;
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      done = true;
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout: text(out), stderr: text(err) });
    });
  });
  return { child, result, stdout: () => text(out), stderr: () => text(err), exited: () => done };
}

/** Starts the built binary as a user would (run `npm run build` first; `npm test` does). */
export function startCli(argv: string[], options: StartOptions = {}): Running {
  return startProcess(process.execPath, [BIN, ...argv], options);
}

/** Runs the built binary to its end. */
export function spawnCli(argv: string[], options: StartOptions = {}): Promise<CliResult> {
  return startCli(argv, options).result;
}
