import { flagWords, functionName, globalValueFlags as valueFlagsOf, shellQuote as quote, valueFlags, type CompletionTree, type FlagSpec } from './completion-tree.js';

/** The completion script for bash 4 and later: one function, registered with `complete -F`. */
export function bashScript(tree: CompletionTree): string {
  const { name, global, commands } = tree;
  const valueCases: string[] = [];
  const addValueCases = (command: string, flags: FlagSpec[]) => {
    for (const flag of flags.filter((item) => item.takesValue)) {
      const patterns = flag.names.map((option) => quote(`${command}|${option}`)).join('|');
      // Files and directories through readline's own completion (-o default / dirnames): it dequotes what was typed and
      // quotes what it offers, so `my file` or `it's` come out as one word; compgen's output would be split at spaces.
      const action = flag.values
        ? `COMPREPLY=($(compgen -W ${quote(flag.values.join(' '))} -- "$cur"))`
        : flag.kind === 'file'
          ? 'compopt -o default; COMPREPLY=()'
          : flag.kind === 'dir'
            ? 'compopt -o dirnames; COMPREPLY=()'
            : 'COMPREPLY=()';
      valueCases.push(`    ${patterns}) ${action}; return 0 ;;`);
    }
  };
  addValueCases('', global);
  for (const command of commands) addValueCases(command.name, [...command.flags, ...global]);
  const globalValueFlags = valueFlagsOf(tree);
  const flagCases = commands.map((command) => `    ${quote(command.name)}) words=${quote([...command.flags, ...global].flatMap((flag) => flag.names).join(' '))} ;;`);
  // A word that is no flag: the values of the command's next argument, if it has values; else its flags, as fish offers.
  const argumentCases = commands.flatMap((command) => [
    ...command.arguments.flatMap((argument, index) => (argument.values?.length ? [`    ${quote(`${command.name}|${index}`)}) words=${quote(argument.values.join(' '))} ;;`] : [])),
    `    ${quote(`${command.name}|`)}*) words=${quote(flagWords(command).map(({ word }) => word).join(' '))} ;;`,
  ]);
  const commandValueFlagCases = commands
    .filter((command) => valueFlags(command.flags).length > 0)
    .map((command) => `      ${quote(command.name)}) skip=${quote(` ${valueFlags(command.flags).join(' ')} `)} ;;`);
  const commandNames = quote(commands.map((command) => command.name).join(' '));
  return `# ${name} completion for bash (4 and later). Load it with:
#   source <(${name} completion bash)
${functionName(name, '_complete')}() {
  # bash splits words at ':' and '=' (COMP_WORDBREAKS): --db postgres://h/db came as three words, --output=json as two.
  local -a argv=()
  local j w glue=0
  for ((j = 0; j <= COMP_CWORD; j++)); do
    w="\${COMP_WORDS[j]}"
    if [ "$j" -gt 0 ] && { [ "$glue" = 1 ] || [[ "$w" =~ ^[:=]+$ ]]; }; then
      argv[\${#argv[@]}-1]+="$w"
      if [[ "$w" =~ ^[:=]+$ ]]; then glue=1; else glue=0; fi
      continue
    fi
    argv+=("$w")
  done
  local last=$((\${#argv[@]} - 1))
  local cur="\${argv[last]}" prev="" cmd="" words="" i=1
  [ "$last" -gt 0 ] && prev="\${argv[last-1]}"
  # --output=js: readline completes what follows the '=', so the values are offered without the flag.
  if [[ "$cur" == --*=* ]]; then prev="\${cur%%=*}"; cur="\${cur#*=}"; fi
  # The subcommand is the first word that is neither a flag nor the value of a global flag.
  while [ "$i" -lt "$last" ]; do
    case "\${argv[i]}" in
      ${globalValueFlags.length ? `${globalValueFlags.join('|')}) i=$((i + 2)); continue ;;` : ''}
      -*) ;;
      *) cmd="\${argv[i]}"; break ;;
    esac
    i=$((i + 1))
  done
  # The command's arguments given so far: the words after it that are neither flags nor a flag's value.
  local given=0 skip=""
  case "$cmd" in
${commandValueFlagCases.join('\n')}
  esac
  for ((i = i + 1; i < last; i++)); do
    case "\${argv[i]}" in
      ${globalValueFlags.length ? `${globalValueFlags.join('|')}) i=$((i + 1)) ;;` : ''}
      -*) [[ "$skip" == *" \${argv[i]} "* ]] && i=$((i + 1)) ;;
      *) given=$((given + 1)) ;;
    esac
  done
  case "$cmd|$prev" in
${valueCases.join('\n')}
  esac
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then words=${quote(global.flatMap((flag) => flag.names).join(' '))}; else words=${commandNames}; fi
  elif [[ "$cur" == -* ]]; then
    case "$cmd" in
${flagCases.join('\n')}
    esac
  else
    case "$cmd|$given" in
${argumentCases.join('\n')}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F ${functionName(name, '_complete')} ${name}
`;
}
