import {
  flagWords,
  functionName,
  globalValueFlags as valueFlagsOf,
  shellQuote as quote,
  shortDescription,
  valueFlags,
  type CompletionTree,
  type FlagSpec,
} from './completion-tree.js';

/** The completion script for fish: `complete` lines, with a function that finds the subcommand and counts its arguments. */
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
  // fish's __fish_use_subcommand takes the value of `--db URL` for the subcommand; this one skips the flags' values.
  const globalValueFlags = valueFlagsOf(tree);
  const commandValueFlags = commands
    .filter((command) => valueFlags(command.flags).length > 0)
    .flatMap((command) => [`                    case ${quote(command.name)}`, `                        set value_flags ${valueFlags(command.flags).join(' ')}`]);
  const uses = (command: string, given?: number) => `${fn} ${command}${given === undefined ? '' : ` ${given}`}`;
  // fish offers flags only once a `-` is typed: where a word is expected and no argument has values, they are the words.
  const emptyToken = 'not string length -q -- (commandline -ct)';
  const flagsAsWords = commands.flatMap((command) => {
    const valued = command.arguments.flatMap((argument, index) => (argument.values?.length ? [`; and not ${uses(command.name, index)}`] : []));
    const condition = `${uses(command.name)}${valued.join('')}; and ${emptyToken}`;
    return flagWords(command).map(({ word, description }) => `complete -c ${name} -n ${quote(condition)} -a ${quote(word)} -d ${quote(shortDescription(description))}`);
  });
  return [
    `# ${name} completion for fish. Load it with: ${name} completion fish | source`,
    `function ${fn} --description 'whether the command line has a ${name} subcommand (named argv[1], followed by argv[2] arguments, if given)'`,
    '    set -l words (commandline -opc)',
    '    set -l skip 1',
    '    set -l command',
    '    set -l value_flags',
    '    set -l given 0',
    '    for word in $words',
    '        if test $skip -gt 0',
    '            set skip (math $skip - 1)',
    '            continue',
    '        end',
    '        switch $word',
    ...(globalValueFlags.length ? [`            case ${globalValueFlags.join(' ')}`, '                set skip 1'] : []),
    `            case '-*'`,
    '                contains -- $word $value_flags; and set skip 1',
    `            case '*'`,
    '                if set -q command[1]',
    '                    set given (math $given + 1)',
    '                    continue',
    '                end',
    '                set command $word',
    ...(commandValueFlags.length ? ['                switch $word', ...commandValueFlags, '                end'] : []),
    '        end',
    '    end',
    '    set -q command[1]; or return 1',
    '    set -q argv[1]; or return 0',
    '    test "$command" = "$argv[1]"; or return 1',
    '    set -q argv[2]; or return 0',
    '    test $given -eq $argv[2]',
    'end',
    `complete -c ${name} -f`,
    ...commands.map((command) => `complete -c ${name} -n 'not ${fn}' -a ${quote(command.name)} -d ${quote(shortDescription(command.description))}`),
    ...commands.flatMap((command) =>
      command.arguments.flatMap((argument, index) =>
        argument.values?.length ? [`complete -c ${name} -n ${quote(uses(command.name, index))} -a ${quote(argument.values.join(' '))}`] : [],
      ),
    ),
    ...flagsAsWords,
    ...global.map((flag) => line('true', flag)),
    ...commands.flatMap((command) => command.flags.map((flag) => line(uses(command.name), flag))),
    '',
  ].join('\n');
}
