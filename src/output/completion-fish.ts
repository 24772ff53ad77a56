import { functionName, globalValueFlags as valueFlagsOf, shellQuote as quote, shortDescription, type CompletionTree, type FlagSpec } from './completion-tree.js';

/** The completion script for fish: `complete` lines, with a function that finds the subcommand. */
export function fishScript(tree: CompletionTree): string {
  const { name, global, commands } = tree;
  const fn = functionName(name, '_command');
  const line = (condition: string, flag: FlagSpec) => {
    const parts = [`complete -c ${name} -n ${quote(condition)}`];
    for (const option of flag.names) parts.push(option.startsWith('--') ? `-l ${option.slice(2)}` : `-s ${option.slice(1)}`);
    if (flag.takesValue) parts.push(flag.kind === 'file' ? '-r -F' : '-r -f');
    if (flag.values) parts.push(`-a ${quote(flag.values.join(' '))}`);
    else if (flag.kind === 'dir') parts.push(`-a '(__fish_complete_directories (commandline -ct))'`);
    parts.push(`-d ${quote(shortDescription(flag.description))}`);
    return parts.join(' ');
  };
  // fish's __fish_use_subcommand takes the value of `--db URL` for the subcommand; this one skips the global flags' values.
  const globalValueFlags = valueFlagsOf(tree);
  const uses = (command: string) => `${fn} ${command}`;
  return [
    `# ${name} completion for fish. Load it with: ${name} completion fish | source`,
    `function ${fn} --description 'whether the command line has a ${name} subcommand (named argv[1], if given)'`,
    '    set -l words (commandline -opc)',
    '    set -l skip 1',
    '    for word in $words',
    '        if test $skip -gt 0',
    '            set skip (math $skip - 1)',
    '            continue',
    '        end',
    '        switch $word',
    ...(globalValueFlags.length ? [`            case ${globalValueFlags.join(' ')}`, '                set skip 1'] : []),
    `            case '-*'`,
    `            case '*'`,
    '                set -q argv[1]; or return 0',
    '                test "$word" = "$argv[1]"',
    '                return',
    '        end',
    '    end',
    '    return 1',
    'end',
    `complete -c ${name} -f`,
    ...commands.map((command) => `complete -c ${name} -n 'not ${fn}' -a ${quote(command.name)} -d ${quote(shortDescription(command.description))}`),
    ...commands
      .filter((command) => command.arguments[0]?.values?.length)
      .map((command) => `complete -c ${name} -n ${quote(uses(command.name))} -a ${quote(command.arguments[0]?.values?.join(' ') ?? '')}`),
    ...global.map((flag) => line('true', flag)),
    ...commands.flatMap((command) => command.flags.map((flag) => line(uses(command.name), flag))),
    '',
  ].join('\n');
}
