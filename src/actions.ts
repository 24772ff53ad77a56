import type { Actions } from './cli.js';
import type { CliIo } from './io.js';
import { resolveConfig, type GlobalFlags } from './config/resolve-config.js';

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
      const [{ parseListFlags }, { runList }] = await Promise.all([import('./commands/list-flags.js'), import('./commands/list.js')]);
      const options = parseListFlags(flags);
      await runList(options, await config(global), io);
    },
    async show(id, flags, global) {
      const { runShow } = await import('./commands/show.js');
      const options = { id, output: flags.json ? ('json' as const) : flags.output, showSecrets: flags.showSecrets === true };
      await runShow(options, await config(global), io);
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
