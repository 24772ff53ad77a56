import type { Actions } from './cli.js';
import type { CliIo } from './io.js';
import { resolveConfig, type GlobalFlags, type ResolvedConfig } from './config/resolve-config.js';
import { closeEarly, connectEarly, type OpenPool } from './db/pool.js';
import { deferInterrupts } from './interrupt.js';

export interface ShowFlags {
  output: 'text' | 'json';
  json?: boolean;
  showSecrets?: boolean;
}

/**
 * The real actions: each resolves the config, turns flags into typed options and runs its command. Command modules
 * are imported on demand so `--help` and `--version` never load pg, Kysely or the formatters.
 */
export function createActions(io: CliIo): Actions {
  const config = async (global: GlobalFlags) => {
    const resolved = await resolveConfig(global, io.env, io.cwd);
    for (const warning of resolved.warnings) io.stderr.write(`${warning}\n`);
    return resolved;
  };
  return {
    async list(flags, global) {
      const { parseListFlags } = await import('./commands/list-flags.js');
      const options = parseListFlags(flags);
      const resolved = await config(global);
      const { module, early } = await loadWhileConnecting(resolved, () => import('./commands/list.js'));
      await module.runList(options, resolved, io, early);
    },
    async show(id, flags, global) {
      const options = { id, output: flags.json ? ('json' as const) : flags.output, showSecrets: flags.showSecrets === true };
      const resolved = await config(global);
      // show checks io.signal between its steps and prints nothing when stopped.
      deferInterrupts();
      const { module, early } = await loadWhileConnecting(resolved, () => import('./commands/show.js'));
      await module.runShow(options, resolved, io, early);
    },
    async prune(flags, global) {
      const [{ parsePruneFlags }, { runPrune }] = await Promise.all([import('./commands/prune-flags.js'), import('./commands/prune.js')]);
      const resolved = await config(global);
      const options = await parsePruneFlags(flags, { cwd: io.cwd, configRetentionDays: resolved.retentionDays });
      // prune finishes its batch, prints its summary and exits 130.
      deferInterrupts();
      await runPrune(options, resolved, io);
    },
    async export(flags, global) {
      const [{ parseExportFlags }, { runExport }] = await Promise.all([import('./commands/export-flags.js'), import('./commands/export.js')]);
      const { options, warnings } = await parseExportFlags(flags, io.env, io.cwd);
      for (const warning of warnings) io.stderr.write(`${warning}\n`);
      const resolved = await config(global);
      // export lets its batches in flight finish and saves its checkpoint.
      deferInterrupts();
      await runExport(options, resolved, io);
    },
  };
}

/**
 * Starts the command's first connection (`connectEarly`), then loads its module: the server starts a backend while
 * Node compiles the module and Kysely. Should the module fail to load, the pool is ended, not left open.
 */
async function loadWhileConnecting<T>(config: ResolvedConfig, load: () => Promise<T>): Promise<{ module: T; early: Promise<OpenPool> | undefined }> {
  const early = connectEarly(config);
  try {
    return { module: await load(), early };
  } catch (error) {
    await closeEarly(early);
    throw error;
  }
}
