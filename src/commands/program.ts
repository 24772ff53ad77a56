import { Command, Option, type CommandUnknownOpts } from '@commander-js/extra-typings';
import type { CliIo } from '../io.js';
import { parseDurationFlag } from '../config/duration.js';
import { VERSION } from '../version.js';
import { UsageError } from '../errors.js';
import { MAX_CONNECT_TIMEOUT_S } from '../config/config-file.js';

const PROGRAM_HELP = `
Examples:
  $ api7-audit --demo list --since 7d               try it on an embedded demo database
  $ api7-audit list --operator alice --since 7d     who changed what this week
  $ api7-audit show 5290                            one change as a before/after diff
  $ api7-audit list --all --output ndjson | jq .    everything, streamed

Connection: --db URL, else API7_AUDIT_DATABASE_URL, else DATABASE_URL, else database.url in the config file,
else the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. It gives up after --connect-timeout, else
connect_timeout in the URL, else PGCONNECT_TIMEOUT, else database.connect_timeout in the config file, else 10 s.
Config file: --config FILE, else API7_AUDIT_CONFIG, else ~/.config/api7-audit/config.yaml ($XDG_CONFIG_HOME), else
/etc/api7-audit/config.yaml; never one in the working directory.
Environment: API7_AUDIT_DEBUG=1 (as --debug), NO_COLOR (as --no-color; TERM=dumb too), API7_AUDIT_PAGER or PAGER
(the table's pager on a terminal, default less -FRX; empty: none), API7_AUDIT_TZ (the table's time zone).
Shell completion: api7-audit completion bash|zsh|fish. Manual: man api7-audit (installed with the package).
Exit codes: 0 ok, 1 runtime failure (database, sink, unknown id, a lost connection), 2 bad input, 3 prune lock busy
(another prune of the table holds it; see prune --wait-lock), 4 verify found something not intact, 130 interrupted.`;

/** The root command and the global flags every subcommand sees (typed through `optsWithGlobals()`). Never exits. */
export function declareProgram(io: CliIo) {
  const program = new Command('api7-audit')
    .description('Query, diff, prune and export the API7 control-plane audit log in PostgreSQL')
    .version(VERSION, '-V, --version')
    .option('--db <url>', 'PostgreSQL URL (postgres://user@host:5432/db?sslmode=require)')
    .option('--config <file>', 'YAML config file (default: API7_AUDIT_CONFIG, else ~/.config/api7-audit/config.yaml, else /etc/api7-audit/config.yaml)')
    .option('--table <name>', 'audit table, optionally schema-qualified (default: audit_logs)')
    .addOption(new Option('--demo', 'use an embedded demo database seeded with realistic entries').conflicts('db'))
    .addOption(new Option('--connect-timeout <duration>', 'give up connecting after this long: 5s, 1m (default: connect_timeout in the URL, else PGCONNECT_TIMEOUT, else the config file, else 10s)').argParser(parseConnectTimeout))
    .option('--debug', 'print stack traces with errors (or API7_AUDIT_DEBUG=1)')
    .option('--no-color', 'no colour, even on a terminal (as NO_COLOR=1)')
    .option('--secret-fingerprints', 'show each secret as ******(hmac-sha256:<12 hex>) under the key in API7_AUDIT_FINGERPRINT_KEY or --fingerprint-key-file')
    .option('--fingerprint-key-file <file>', 'file holding the fingerprint key (instead of API7_AUDIT_FINGERPRINT_KEY)')
    .addHelpText('after', PROGRAM_HELP)
    // Each command's --help lists the global flags that apply to it, as gh's "INHERITED FLAGS" do.
    .configureHelp({ showGlobalOptions: true })
    // --no-color becomes NO_COLOR for this run, so every writer (table, diff, spinners) honours it the one way.
    .hook('preAction', (root, action) => {
      refuseEmptyValues(action);
      if (root.opts().color === false) {
        io.env.NO_COLOR = '1';
        delete io.env.FORCE_COLOR;
      }
    })
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(hintUnknownCommand(maskParseError(text))),
    })
    .exitOverride();
  // `help lsit`: commander answers a name that is no command with the whole help on stderr. It fails instead as
  // `api7-audit lsit` does (one line, the suggestion, exit 2), by parsing the name alone.
  program.on('beforeHelp', (context: { error: boolean }) => {
    const [first, name] = program.args;
    if (context.error && first === 'help' && name !== undefined) program.parse([name], { from: 'user' });
    if (context.error && first === undefined) refuseFlagsWithoutCommand(program);
  });
  return program;
}

/**
 * `api7-audit --demo` (the README's flag, without its command) printed the whole help on stderr, exit 2: one line
 * naming the flags instead (never their values: --db may hold a password). Bare `api7-audit` still prints the help.
 */
function refuseFlagsWithoutCommand(program: CommandUnknownOpts): void {
  const given = program.options.filter((option) => program.getOptionValueSource(option.attributeName()) === 'cli');
  if (given.length === 0) return;
  const names = given.map((option) => option.long ?? option.flags).join(' ');
  const example = given.some((option) => option.long === '--demo') ? ': try api7-audit --demo list' : ', such as list';
  program.error(`error: a command is missing after ${names}${example} (api7-audit --help lists every command)`, { exitCode: 2, code: 'commander.missingCommand' });
}

/**
 * Names people try from other tools, and what api7-audit calls that. Each replaces commander's spelling suggestion
 * (which offers `stats` for `status`). Hints, never aliases: `delete` must not run prune. A Map, not an object:
 * `api7-audit constructor` must not find Object.prototype's.
 */
const COMMAND_HINTS: ReadonlyMap<string, string> = new Map([
  ['demo', 'try: api7-audit list --demo (the demo database is the --demo flag, for any command)'],
  ['tail', '(Did you mean follow?)'],
  ['watch', '(Did you mean follow?)'],
  ['log', '(Did you mean list?)'],
  ['logs', '(Did you mean list?)'],
  ['search', '(Did you mean list? Its filters: --operator, --resource, --since ...)'],
  ['find', '(Did you mean list? Its filters: --operator, --resource, --since ...)'],
  ['get', '(Did you mean show ID?)'],
  ['diff', '(Did you mean one of show ID (one change), history TYPE:ID (every change of a resource)?)'],
  ['delete', '(Did you mean prune? It deletes entries older than the retention period: try prune --dry-run first)'],
  ['purge', '(Did you mean prune? It deletes entries older than the retention period: try prune --dry-run first)'],
  ['status', '(Did you mean doctor? It checks the connection, the table and privileges)'],
  ['check', '(Did you mean one of doctor (the setup), verify (the entries against their seals)?)'],
  ['setup', '(Did you mean init?)'],
  ['config', '(Did you mean init? It writes the config file)'],
  ['dump', '(Did you mean export? export --out FILE writes NDJSON)'],
  ['man', 'try: man api7-audit (the manual is installed with the package), or api7-audit COMMAND --help'],
]);

/** `error: unknown command 'tail'` with the hint for a name people try, in place of commander's suggestion. */
export function hintUnknownCommand(text: string): string {
  const name = /^error: unknown command '([^']*)'/.exec(text)?.[1];
  const hint = name === undefined ? undefined : COMMAND_HINTS.get(name);
  return hint === undefined ? text : `error: unknown command '${name}'\n${hint}\n`;
}

/**
 * Commander quotes what it could not parse, and a mistyped flag may carry a credential (`--db-url=postgres://u:pw@h`,
 * `--hec-tokn=...`): an unknown option's `=value` is dropped, and a URL's password anywhere in the message masked.
 */
export function maskParseError(text: string): string {
  return text.replace(/(unknown option '[^'=\s]+)=[^']*'/g, "$1=***'").replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/']*):[^\s']*@/gi, '$1:***@');
}

/**
 * `--db ''`, `--out ''`, `--checkpoint ''`: an empty value on the command line (a shell variable that was not set)
 * is refused for every flag of the command and its parents, naming it. Left alone, some were taken as not given
 * (`--db ''` fell through to the next source of a URL, `--out ''` asked to choose a destination).
 */
function refuseEmptyValues(action: CommandUnknownOpts): void {
  for (let command: CommandUnknownOpts | null = action; command; command = command.parent) {
    for (const option of command.options) {
      const key = option.attributeName();
      if (command.getOptionValue(key) === '' && command.getOptionValueSource(key) === 'cli') {
        throw new UsageError(`invalid ${option.long ?? option.flags} '': expected a value`);
      }
    }
  }
}

/** What a command's declaration hangs itself on: the root, with the global flags' types. */
export type Program = ReturnType<typeof declareProgram>;

/** The global flags as a command's action receives them (`command.optsWithGlobals()`). */
export type GlobalFlags = ReturnType<Program['opts']>;

/** `--connect-timeout 10s` in the grammar of every duration flag; the config file's connect_timeout stays seconds. */
function parseConnectTimeout(value: string): number {
  return parseDurationFlag('--connect-timeout', value, { maxMs: MAX_CONNECT_TIMEOUT_S * 1000 }).ms / 1000;
}
