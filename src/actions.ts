import type { Actions } from './cli.js';
import type { CliIo } from './io.js';
import { resolveConfig, type GlobalFlags } from './config/resolve-config.js';
import { closeEarly, connectEarly, type OpenPool } from './db/pool.js';

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
  const config = (global: GlobalFlags) => resolveConfig(global, io.env, io.cwd);
  return {
    async list(flags, global) {
      const { parseListFlags } = await import('./commands/list-flags.js');
      const options = parseListFlags(flags);
      const resolved = await config(global);
      const early = connectEarly(resolved);
      const { runList } = await whileConnecting(import('./commands/list.js'), early);
      await runList(options, resolved, io, early);
    },
    async show(id, flags, global) {
      const options = { id, output: flags.json ? ('json' as const) : flags.output, showSecrets: flags.showSecrets === true };
      const resolved = await config(global);
      const early = connectEarly(resolved);
      const { runShow } = await whileConnecting(import('./commands/show.js'), early);
      await runShow(options, resolved, io, early);
    },
    async prune(flags, global) {
      const [{ parsePruneFlags }, { runPrune }] = await Promise.all([import('./commands/prune-flags.js'), import('./commands/prune.js')]);
      const resolved = await config(global);
      const options = await parsePruneFlags(flags, { cwd: io.cwd, configRetentionDays: resolved.retentionDays });
      await runPrune(options, resolved, io);
    },
    async export(flags, global) {
      const [{ parseExportFlags }, { runExport }] = await Promise.all([import('./commands/export-flags.js'), import('./commands/export.js')]);
      const { options, warnings } = await parseExportFlags(flags, io.env, io.cwd);
      for (const warning of warnings) io.stderr.write(`${warning}\n`);
      await runExport(options, await config(global), io);
    },
  };
}

/**
 * A command module loaded while its first connection is being made (`connectEarly`): the server starts a backend
 * while Node compiles the module and Kysely. Should the module fail to load, the pool is ended, not left open.
 */
async function whileConnecting<T>(load: Promise<T>, early: Promise<OpenPool> | undefined): Promise<T> {
  return load.catch(async (error: unknown) => {
    await closeEarly(early);
    throw error;
  });
}
