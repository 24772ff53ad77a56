import type { Command, Option } from 'commander';

/** What Tab offers for a flag's value: its choices or known values, files, directories, or nothing. */
export type ValueKind = 'file' | 'dir' | 'none';

export interface FlagSpec {
  names: string[];
  takesValue: boolean;
  /** `--resource [type[:id]]`: the value may be left out. */
  optionalValue: boolean;
  /** The name of its value, as the help shows it (`file`, `type[:id]`). */
  valueName: string;
  values?: readonly string[];
  kind: ValueKind;
  description: string;
}

export interface CommandSpec {
  name: string;
  description: string;
  flags: FlagSpec[];
  /** Its positional arguments, in order: the choices of each (`completion <shell>`), else none. */
  arguments: { name: string; values?: readonly string[] }[];
}

export interface CompletionTree {
  name: string;
  /** The root's flags, which every command takes too. */
  global: FlagSpec[];
  commands: CommandSpec[];
}

// `<file>`, `<files...>`, `<path>`, `<checkpoint>` name files; `<dir>` a directory.
const FILE_ARGUMENT = /<(?:files?|paths?|checkpoint)(?:\.\.\.)?>/i;
const DIR_ARGUMENT = /<(?:dir|directory)(?:\.\.\.)?>/i;

const HELP: FlagSpec = { names: ['-h', '--help'], takesValue: false, optionalValue: false, valueName: '', kind: 'none', description: 'display help' };

function describeFlag(option: Option, values: Readonly<Record<string, readonly string[]>>): FlagSpec {
  const kind: ValueKind = FILE_ARGUMENT.test(option.flags) ? 'file' : DIR_ARGUMENT.test(option.flags) ? 'dir' : 'none';
  return {
    names: [option.short, option.long].filter((name): name is string => name !== undefined),
    takesValue: option.required || option.optional,
    // commander reads the `[` of `<type[:id]>` as an optional value too: a `<...>` value is required whatever it holds.
    optionalValue: option.optional && !option.required,
    valueName: /[<[](.*)[>\]]$/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, '') ?? '',
    values: option.argChoices ?? (option.long ? values[option.long] : undefined),
    kind,
    description: option.description,
  };
}

/** The commander tree as plain data; `values` maps a long flag to the values to offer for it. */
export function describeTree(program: Command, values: Readonly<Record<string, readonly string[]>>): CompletionTree {
  const visible = (options: readonly Option[]) => options.filter((option) => !option.hidden).map((option) => describeFlag(option, values));
  const commands: CommandSpec[] = program.commands
    .filter((command) => !(command as Command & { _hidden?: boolean })._hidden)
    .map((command) => ({
      name: command.name(),
      description: command.description(),
      flags: [...visible(command.options), HELP],
      arguments: command.registeredArguments.map((argument) => ({ name: argument.name(), values: argument.argChoices })),
    }));
  commands.push({ name: 'help', description: 'display help for a command', flags: [], arguments: [{ name: 'command', values: commands.map((command) => command.name) }] });
  return { name: program.name(), global: [...visible(program.options), HELP], commands };
}

/** The flags that take the next word as their value: skipped when looking for the subcommand or counting its arguments. */
export const valueFlags = (flags: readonly FlagSpec[]) => flags.filter((flag) => flag.takesValue && !flag.optionalValue).flatMap((flag) => flag.names);

/** The global flags that take the next word as their value. */
export const globalValueFlags = (tree: CompletionTree) => valueFlags(tree.global);

/** The command's flags as words to offer where a word is expected and none of its arguments has values: long names. */
export const flagWords = (command: CommandSpec) =>
  command.flags.filter((flag) => flag.names[0] !== '-h').map((flag) => ({ word: flag.names.at(-1) as string, description: flag.description }));

/** `text` as one POSIX shell word (bash, zsh and fish all read `'it'\''s'` as it's). */
export const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** A shell function name for `name` (`api7-audit` -> `_api7_audit` + suffix). */
export const functionName = (name: string, suffix = '') => `_${name.replace(/[^A-Za-z0-9]/g, '_')}${suffix}`;

/** The first line of a description, cut to fit one line of a completion menu. */
export const shortDescription = (text: string) => {
  const line = text.split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
};
