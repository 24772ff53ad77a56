import { CommanderError, Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { VERSION } from '../../version.js';

/**
 * `api7-audit version`, `-v` and `-V` beside `--version` (declared with the program): the spellings gh, kubectl and
 * most tools accept. Each prints the version and exits 0.
 */
export function declareVersion(program: Program, io: CliIo): void {
  program.addOption(new Option('-v', 'output the version number').hideHelp());
  program.on('option:v', () => {
    io.stdout.write(`${VERSION}\n`);
    throw new CommanderError(0, 'commander.version', VERSION);
  });
  program
    .command('version')
    .description('print the version')
    .action(() => {
      io.stdout.write(`${VERSION}\n`);
    });
}
