import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One whole-process run, timed from the outside: spawn until its streams close. */
export interface ProcessRun {
  wallMs: number;
  exitCode: number;
  stdout: string;
  stdoutBytes: number;
  stderr: string;
  /** Peak resident set size of the process (VmHWM), in MB; only when asked for. */
  peakRssMb?: number;
  /** User plus system CPU time of the process, s (with GNU time only): steadier than wall time on a busy machine. */
  cpuSeconds?: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep stdout (up to 1 MB) instead of only counting its bytes. */
  keepStdout?: boolean;
  /** Send stdout to /dev/null instead of a pipe to this process (for bulk output). */
  discardStdout?: boolean;
  measureRss?: boolean;
  timeoutMs?: number;
}

const GNU_TIME = '/usr/bin/time';
const KEEP_LIMIT = 1 << 20;
let gnuTime: boolean | undefined;

/** GNU time's `-f %M` reports the peak RSS of the child from wait4(); preferred to polling /proc. */
export function hasGnuTime(): boolean {
  gnuTime ??= existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0;
  return gnuTime;
}

/** How peak RSS is measured on this machine, for the report. */
export function rssMethod(): string {
  return hasGnuTime() ? '/usr/bin/time -f %M (wait4 ru_maxrss of the process)' : 'VmHWM from /proc/<pid>/status, polled every 20 ms';
}

/** Runs `command args` to completion; never rejects for a non-zero exit (the caller decides), only on timeout. */
export async function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessRun> {
  const useTime = options.measureRss === true && hasGnuTime();
  const dir = useTime ? await mkdtemp(join(tmpdir(), 'api7-bench-time-')) : undefined;
  const rssFile = dir && join(dir, 'rss');
  const [file, argv] = rssFile ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, command, ...args]] : [command, [...args]];
  try {
    const started = performance.now();
    const child = spawn(file, argv, { env: options.env ?? { PATH: process.env.PATH }, cwd: options.cwd, stdio: ['ignore', options.discardStdout ? 'ignore' : 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let stdoutBytes = 0;
    let kept = 0;
    child.stdout?.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (options.keepStdout && kept < KEEP_LIMIT) {
        out.push(chunk);
        kept += chunk.length;
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    let hwmKb = 0;
    const poll = options.measureRss && !useTime && child.pid !== undefined ? pollHwm(child.pid, (kb) => (hwmKb = Math.max(hwmKb, kb))) : undefined;
    const timeout = options.timeoutMs ?? 30 * 60_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
    }).finally(() => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
    });
    const wallMs = performance.now() - started;
    let peakRssMb: number | undefined;
    let cpuSeconds: number | undefined;
    if (rssFile) {
      const lines = (await readFile(rssFile, 'utf8')).trim().split('\n');
      const [kb, user, system] = (lines.at(-1) ?? '').split(' ').map(Number);
      peakRssMb = (kb ?? NaN) / 1024;
      cpuSeconds = (user ?? NaN) + (system ?? NaN);
    } else if (options.measureRss) peakRssMb = hwmKb / 1024;
    const stderr = Buffer.concat(err).toString('utf8');
    if (wallMs >= timeout) throw new Error(`${command} ${args.join(' ')}: killed after ${timeout} ms`);
    return { wallMs, exitCode, stdout: Buffer.concat(out).toString('utf8'), stdoutBytes, stderr, peakRssMb, cpuSeconds };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** Throws with the process's stderr when it did not exit 0. */
export function assertSucceeded(run: ProcessRun, what: string): ProcessRun {
  if (run.exitCode !== 0) throw new Error(`${what} exited ${run.exitCode}: ${run.stderr.trim().slice(0, 2000)}`);
  return run;
}

function pollHwm(pid: number, update: (kb: number) => void): NodeJS.Timeout {
  const read = () =>
    readFile(`/proc/${pid}/status`, 'utf8').then(
      (text) => {
        const match = /VmHWM:\s+(\d+) kB/.exec(text);
        if (match) update(Number(match[1]));
      },
      () => undefined,
    );
  void read();
  return setInterval(() => void read(), 20);
}
