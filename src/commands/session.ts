import type { CliIo } from '../io.js';
import { resolveConfig, type GlobalFlags, type ResolvedConfig } from '../config/resolve-config.js';
import { closeEarly, connectEarly, type OpenPool } from '../db/pool.js';

/** The config for this run (flags > environment > config file > defaults); its warnings go to stderr once. */
export async function resolveCommandConfig(global: GlobalFlags, io: CliIo): Promise<ResolvedConfig> {
  const resolved = await resolveConfig(global, io.env, io.cwd);
  for (const warning of resolved.warnings) io.stderr.write(`${warning}\n`);
  if (!resolved.demo || !io.stderrIsTty) return resolved;
  return { ...resolved, announceDemo: () => announceDemo(io) };
}

/** "starting the demo database..." with a spinner on stderr (ora, a terminal only), cleared once it is up. */
async function announceDemo(io: CliIo): Promise<() => void> {
  const { startProgress } = await import('../output/progress.js');
  const progress = await startProgress(io, 'starting the demo database...');
  return () => progress.stop();
}

/**
 * Starts the command's first connection (`connectEarly`), then loads its module: the server starts a backend while
 * Node compiles the module and Kysely. Should the module fail to load, the pool is ended, not left open.
 */
export async function loadWhileConnecting<T>(config: ResolvedConfig, load: () => Promise<T>): Promise<{ module: T; early: Promise<OpenPool> | undefined }> {
  const early = connectEarly(config);
  try {
    return { module: await load(), early };
  } catch (error) {
    await closeEarly(early);
    throw error;
  }
}
