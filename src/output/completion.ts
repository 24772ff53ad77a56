import type { Command, Option } from 'commander';

/**
 * Shell completion scripts generated from the commander tree itself, so every registered command and flag is
 * offered without a list kept by hand. The scripts are static (no call back into node on each Tab): a flag's values
 * are its `.choices()`, or what `values` knows for it (filter values such as --source), or files for flags whose
 * argument names a file.
 */
export type Shell = 'bash' | 'zsh' | 'fish';
export const SHELLS: readonly Shell[] = ['bash', 'zsh', 'fish'];

interface FlagSpec {
  names: string[];
  takesValue: boolean;
  values?: readonly string[];
  files: boolean;
  description: string;
}

interface CommandSpec {
  name: string;
  description: string;
  flags: FlagSpec[];
  /** The choices of its arguments (`completion <shell>`). */
  argumentValues?: readonly string[];
}

const FILE_ARGUMENT = /<(file|path|checkpoint|dir|directory)>/i;

/** The tree as plain data: the root's (global) flags, and each subcommand's own flags. */
function describe(program: Command, values: Readonly<Record<string, readonly string[]>>) {
  const flag = (option: Option): FlagSpec => {
    const names = [option.short, option.long].filter((name): name is string => name !== undefined);
    return {
      names,
      takesValue: option.required || option.optional,
      values: option.argChoices ?? (option.long ? values[option.long] : undefined),
      files: FILE_ARGUMENT.test(option.flags),
      description: option.description,
    };
  };
  const visible = (options: readonly Option[]) => options.filter((option) => !option.hidden).map(flag);
  const global = [...visible(program.options), { names: ['-h', '--help'], takesValue: false, files: false, description: 'display help' }];
  const commands: CommandSpec[] = program.commands
    .filter((command) => !(command as Command & { _hidden?: boolean })._hidden)
    .map((command) => ({
      name: command.name(),
      description: command.description(),
      flags: [...visible(command.options), { names: ['-h', '--help'], takesValue: false, files: false, description: 'display help' }],
      argumentValues: command.registeredArguments.flatMap((argument) => argument.argChoices ?? []),
    }));
  commands.push({ name: 'help', description: 'display help for a command', flags: [] });
  return { name: program.name(), global, commands };
}

/** The completion script for `shell`; `values` maps a long flag to the values to offer for it. */
export function completionScript(shell: Shell, program: Command, values: Readonly<Record<string, readonly string[]>> = {}): string {
  const tree = describe(program, values);
  if (shell === 'fish') return fishScript(tree);
  const bash = bashScript(tree);
  if (shell === 'bash') return bash;
  // zsh runs the same function through its bash compatibility layer, as kubectl's first zsh completion did.
  return `#compdef ${tree.name}\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
const functionName = (name: string) => `_${name.replace(/[^A-Za-z0-9]/g, '_')}_complete`;

function bashScript({ name, global, commands }: ReturnType<typeof describe>): string {
  const valueCases: string[] = [];
  const addValueCases = (command: string, flags: FlagSpec[]) => {
    for (const flag of flags.filter((item) => item.takesValue)) {
      const patterns = flag.names.map((option) => quote(`${command}|${option}`)).join('|');
      const action = flag.values
        ? `COMPREPLY=($(compgen -W ${quote(flag.values.join(' '))} -- "$cur"))`
        : flag.files
          ? 'COMPREPLY=($(compgen -f -- "$cur"))'
          : 'COMPREPLY=()';
      valueCases.push(`    ${patterns}) ${action}; return 0 ;;`);
    }
  };
  addValueCases('', global);
  for (const command of commands) addValueCases(command.name, [...command.flags, ...global]);
  const globalValueFlags = global.filter((flag) => flag.takesValue).flatMap((flag) => flag.names);
  const flagCases = commands.map((command) => `    ${quote(command.name)}) words=${quote([...command.flags, ...global].flatMap((flag) => flag.names).join(' '))} ;;`);
  const argumentCases = commands
    .filter((command) => command.argumentValues?.length)
    .map((command) => `    ${quote(command.name)}) words=${quote(command.argumentValues?.join(' ') ?? '')} ;;`);
  return `# ${name} completion for bash (and zsh through bashcompinit). Load it with:
#   source <(${name} completion bash)
${functionName(name)}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" words="" i=1
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # The subcommand is the first word that is neither a flag nor the value of a global flag.
  while [ "$i" -lt "$COMP_CWORD" ]; do
    case "\${COMP_WORDS[i]}" in
      ${globalValueFlags.length ? `${globalValueFlags.join('|')}) i=$((i + 2)); continue ;;` : ''}
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
    i=$((i + 1))
  done
  case "$cmd|$prev" in
${valueCases.join('\n')}
  esac
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then words=${quote(global.flatMap((flag) => flag.names).join(' '))}; else words=${quote(commands.map((command) => command.name).join(' '))}; fi
  elif [ "$cmd" = help ]; then
    words=${quote(commands.map((command) => command.name).join(' '))}
  elif [[ "$cur" == -* ]]; then
    case "$cmd" in
${flagCases.join('\n')}
    esac
  else
    case "$cmd" in
${argumentCases.join('\n')}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${functionName(name)} ${name}
`;
}

function fishScript({ name, global, commands }: ReturnType<typeof describe>): string {
  const names = commands.map((command) => command.name).join(' ');
  const line = (condition: string, flag: FlagSpec) => {
    const parts = [`complete -c ${name} -n ${quote(condition)}`];
    for (const option of flag.names) parts.push(option.startsWith('--') ? `-l ${option.slice(2)}` : `-s ${option.slice(1)}`);
    if (flag.takesValue) parts.push(flag.files ? '-r -F' : '-r -f');
    if (flag.values) parts.push(`-a ${quote(flag.values.join(' '))}`);
    parts.push(`-d ${quote(flag.description.slice(0, 80))}`);
    return parts.join(' ');
  };
  return [
    `# ${name} completion for fish. Load it with: ${name} completion fish | source`,
    `complete -c ${name} -f`,
    ...commands.map((command) => `complete -c ${name} -n '__fish_use_subcommand' -a ${command.name} -d ${quote(command.description.slice(0, 80))}`),
    ...commands
      .filter((command) => command.argumentValues?.length)
      .map((command) => `complete -c ${name} -n ${quote(`__fish_seen_subcommand_from ${command.name}`)} -a ${quote(command.argumentValues?.join(' ') ?? '')}`),
    ...global.map((flag) => line('true', flag)),
    ...commands.flatMap((command) => command.flags.map((flag) => line(`__fish_seen_subcommand_from ${command.name}`, flag))),
    `complete -c ${name} -n '__fish_seen_subcommand_from help' -a ${quote(names)}`,
    '',
  ].join('\n');
}
