import { Argument } from '@commander-js/extra-typings';
import type { Command } from 'commander';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { KNOWN_OPERATIONS, KNOWN_RESOURCE_TYPES, KNOWN_SOURCES } from '../../config/known-values.js';

const COMPLETION_HELP = `
To load it:
  bash  source <(api7-audit completion bash)          (in ~/.bashrc for every shell; bash 4 or later)
  zsh   api7-audit completion zsh > "\${fpath[1]}/_api7-audit"   (then start a new shell), or
        source <(api7-audit completion zsh)           (in ~/.zshrc, after compinit: zsh needs compinit either way)
  fish  api7-audit completion fish > ~/.config/fish/completions/api7-audit.fish

Completes commands, flags and the values known for them (--output, --order, --source, --operation, resource types,
files and directories). Operator names are not completed: that would connect to the database on every Tab.`;

/** Registers `api7-audit completion bash|zsh|fish`: a script generated from every registered command and flag. */
export function declareCompletion(program: Program, io: CliIo): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(['bash', 'zsh', 'fish'] as const))
    .addHelpText('after', COMPLETION_HELP)
    .action(async (shell) => {
      const { completionScript } = await import('../../output/completion.js');
      const values = { '--source': KNOWN_SOURCES, '--operation': KNOWN_OPERATIONS, '--resource': KNOWN_RESOURCE_TYPES };
      io.stdout.write(completionScript(shell, program as unknown as Command, values));
    });
}
