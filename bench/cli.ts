import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessRun, type RunOptions } from './proc.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The built binary, spawned for every measured figure exactly as a user runs it. */
export let BIN = join(ROOT, 'bin', 'api7-audit.js');

/**
 * Runs the figures on a copy of the built binary (bin/, dist/, package.json, node_modules linked): a build by
 * someone else on the same checkout swaps dist/ and its chunk names while a measured export is loading them.
 * Returns the clean-up.
 */
export async function snapshotBinary(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'api7-bench-bin-'));
  for (const part of ['bin', 'dist', 'package.json']) await cp(join(ROOT, part), join(dir, part), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  BIN = join(dir, 'bin', 'api7-audit.js');
  return () => rm(dir, { recursive: true, force: true });
}

/** Spawns `api7-audit args` with only PATH and `env` in its environment, in `cwd` (a scratch directory). */
export function runCli(args: readonly string[], options: RunOptions & { cwd: string }): Promise<ProcessRun> {
  return runProcess(process.execPath, [BIN, ...args], { ...options, env: { PATH: process.env.PATH, ...options.env } });
}
