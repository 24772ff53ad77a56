import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';

const INIT_HELP = `
Examples:
  $ api7-audit init                  on a terminal: looks, shows 3 entries read through the mapping, asks to write
  $ api7-audit init --json           what it found and proposes, for scripts (writes only with --yes)
  api7-audit init --schema audit --yes --config /etc/api7-audit/config.yaml

Looks at every table and view the role can read (in the search path's schemas, or --schema), scores each as an
audit log by its columns, shows the best candidates and the newest 3 entries read through the proposed mapping,
and writes table: and columns: to the config file (--config FILE, else ~/.config/api7-audit/config.yaml) when you
accept, keeping its other settings. Reads only (READ ONLY transactions); never writes to the database.
Then run: api7-audit doctor`;

function initCommand(program: Program) {
  return program
    .command('init')
    .description('find the audit table, propose a column mapping and write the config file')
    .option('--schema <names...>', 'look in these schemas instead of the search path')
    .option('-y, --yes', 'write the config file without asking')
    .option('--json', 'print what was found as JSON (writes only with --yes)')
    .addHelpText('after', INIT_HELP);
}

/** Registers `api7-audit init`; its run module loads only when it runs. */
export function declareInit(program: Program, io: CliIo): void {
  initCommand(program).action(async (flags, command) => {
    const { runInit } = await import('./run.js');
    await runInit({ schemas: flags.schema, yes: flags.yes === true, json: flags.json === true }, command.optsWithGlobals(), io);
  });
}
