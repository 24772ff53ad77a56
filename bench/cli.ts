import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessRun, type RunOptions } from './proc.js';

/** The built binary, spawned for every measured figure exactly as a user runs it. */
export const BIN = fileURLToPath(new URL('../../bin/api7-audit.js', import.meta.url));

/** Spawns `api7-audit args` with only PATH and `env` in its environment, in `cwd` (a scratch directory). */
export function runCli(args: readonly string[], options: RunOptions & { cwd: string }): Promise<ProcessRun> {
  return runProcess(process.execPath, [BIN, ...args], { ...options, env: { PATH: process.env.PATH, ...options.env } });
}
