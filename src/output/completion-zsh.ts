import { functionName, shellQuote as quote, shortDescription, type CompletionTree, type FlagSpec } from './completion-tree.js';

// Inside _arguments' [description] a bracket would end it; in a (value list) a space or parenthesis would split it.
const describe = (text: string) => shortDescription(text).replaceAll('\\', '\\\\').replaceAll('[', '(').replaceAll(']', ')');
const listValue = (value: string) => value.replace(/[\\\s():'"`$]/g, '\\$&');
const message = (name: string) => name.replace(/[^\w|.-]+/g, ' ').trim() || 'value';

/** _arguments specs for `flags`: a flag with a value may repeat (most filters do) and is `--flag value` or `--flag=value`. */
function flagSpecs(flags: FlagSpec[]): string[] {
  return flags.flatMap((flag) => {
    const description = `[${describe(flag.description)}]`;
    if (!flag.takesValue) {
      const exclusive = flag.names.length > 1 ? `(${flag.names.join(' ')})` : '';
      return flag.names.map((name) => `${exclusive}${name}${description}`);
    }
    const action = flag.values ? `(${flag.values.map(listValue).join(' ')})` : flag.kind === 'file' ? '_files' : flag.kind === 'dir' ? '_files -/' : ' ';
    const argument = `${flag.optionalValue ? '::' : ':'}${message(flag.valueName)}:${action}`;
    return flag.names.map((name) => `*${name}${name.startsWith('--') ? '=' : '+'}${description}${argument}`);
  });
}

const specList = (specs: string[], indent: string) => specs.map((spec) => `${indent}${quote(spec)}`).join(' \\\n');

/**
 * A native zsh completion function (_arguments), for compinit: autoloaded from a file `_NAME` in $fpath (it then
 * completes at once), or sourced after compinit (it then registers itself with compdef).
 */
export function zshScript({ name, global, commands }: CompletionTree): string {
  const fn = functionName(name);
  const commandCases = commands.map((command) => {
    // An argument without values is only a message, shown by _guard unless the word is a flag: an action of ' ' made
    // the message a second answer to `--res`, and zsh then listed `--resource` without inserting it.
    const positional = command.arguments.map((argument, index) => {
      const action = argument.values ? `(${argument.values.map(listValue).join(' ')})` : `_guard "^-*" "${message(argument.name)}"`;
      return `${index + 1}:${message(argument.name)}:${action}`;
    });
    const specs = [...flagSpecs(command.flags), ...positional];
    return `        ${quote(command.name)})\n          _arguments -s : "\${global[@]}" \\\n${specList(specs, '            ')} && ret=0 ;;`;
  });
  const described = commands.map((command) => quote(`${command.name.replaceAll(':', '\\:')}:${shortDescription(command.description)}`));
  return `#compdef ${name}
# ${name} completion for zsh. Load it with compinit in ~/.zshrc and either:
#   ${name} completion zsh > "\${fpath[1]}/_${name}"   (then start a new shell), or
#   source <(${name} completion zsh)                  (in ~/.zshrc, after compinit)
${fn}() {
  local curcontext="$curcontext" state line ret=1
  local -a global=(
${specList(flagSpecs(global), '    ').replaceAll(' \\\n', '\n')}
  )
  _arguments -C -s : "\${global[@]}" '1: :->command' '*:: :->argument' && ret=0
  case $state in
    command)
      local -a commands=(
${described.map((line) => `        ${line}`).join('\n')}
      )
      _describe -t commands ${quote(`${name} command`)} commands && ret=0 ;;
    argument)
      curcontext="\${curcontext%:*:*}:${name}-$words[1]:"
      case $words[1] in
${commandCases.join('\n')}
      esac ;;
  esac
  return ret
}
if [ "\${funcstack[1]}" = ${quote(`_${name}`)} ]; then
  ${fn} "$@"
elif (( $+functions[compdef] )); then
  compdef ${fn} ${name}
else
  print -u2 ${quote(`${name} completion: zsh's completion system is not loaded; run: autoload -U compinit && compinit`)}
fi
`;
}
