import type { Command, Option } from 'commander';

/**
 * api7-audit(1) as roff, generated at build time from the same commander tree `--help` prints (scripts/build.mjs),
 * so the page cannot drift from the flags: one page, a section per command, each with its flags and the text its
 * `--help` shows after them (examples, notes).
 */
export interface ManPageInfo {
  version: string;
  /** `YYYY-MM-DD`, for the page footer. */
  date: string;
}

export function renderManPage(program: Command, info: ManPageInfo): string {
  const name = program.name();
  const commands = program.commands.filter((command) => !(command as Command & { _hidden?: boolean })._hidden);
  const lines = [
    `.TH ${name.toUpperCase()} 1 "${info.date}" "${name} ${info.version}" "User Commands"`,
    '.SH NAME',
    `${escape(name)} \\- ${escape(program.description())}`,
    '.SH SYNOPSIS',
    `.B ${escape(name)}`,
    '[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]',
    '.SH DESCRIPTION',
    escape(program.description()),
    '.PP',
    `Every command takes \\fB\\-\\-help\\fR, which prints what this page says about it.`,
    '.SH GLOBAL OPTIONS',
    'Accepted before or after the command.',
    ...options(program.options),
    '.SH COMMANDS',
    ...commands.flatMap((command) => [
      `.SS ${escape(`${name} ${command.name()}`)} ${escape(command.usage().replace('[options]', '[OPTIONS]'))}`,
      escape(command.description()),
      ...options(command.options),
      ...after(command),
    ]),
    ...preformatted('ENVIRONMENT AND EXIT STATUS', afterText(program)),
    '.SH SEE ALSO',
    'README.md in the package: filters, output, prune, export, secrets.',
    '',
  ];
  return lines.join('\n');
}

function options(list: readonly Option[]): string[] {
  return list
    .filter((option) => !option.hidden)
    .flatMap((option) => {
      const notes = [
        option.argChoices ? `one of: ${option.argChoices.join(', ')}` : undefined,
        option.defaultValue !== undefined && option.defaultValue !== false ? `default: ${String(option.defaultValue)}` : undefined,
      ].filter(Boolean);
      return ['.TP', `.B ${escape(option.flags)}`, escape(option.description + (notes.length ? ` (${notes.join('; ')})` : ''))];
    });
}

/** The text a command's `--help` prints after its flags (addHelpText 'after'), kept as it is laid out. */
function afterText(command: Command): string {
  let text = '';
  const capture = { writeOut: (chunk: string) => (text += chunk), writeErr: (chunk: string) => (text += chunk) };
  const saved = command.configureOutput();
  command.configureOutput({ ...saved, ...capture });
  command.outputHelp();
  command.configureOutput(saved);
  const own = command.helpInformation();
  const rest = text.startsWith(own) ? text.slice(own.length) : '';
  return rest.replace(/^\n+|\n+$/g, '');
}

function after(command: Command): string[] {
  const text = afterText(command);
  return text ? ['.PP', '.nf', ...text.split('\n').map((line) => escape(line)), '.fi'] : [];
}

function preformatted(title: string, text: string): string[] {
  return text ? [`.SH ${title}`, '.nf', ...text.split('\n').map((line) => escape(line)), '.fi'] : [];
}

/** roff escapes: backslashes, hyphens as minus signs (so `--flag` copies right), and a leading dot or quote. */
function escape(text: string): string {
  const escaped = text.replaceAll('\\', '\\e').replaceAll('-', '\\-');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}
