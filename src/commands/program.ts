import { Command, Option } from '@commander-js/extra-typings';
import type { CliIo } from '../io.js';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { MAX_CONNECT_TIMEOUT_S } from '../config/config-file.js';

const PROGRAM_HELP = `
Examples:
  $ api7-audit --demo list --since 7d               try it on an embedded demo database
  $ api7-audit list --operator alice --since 7d     who changed what this week
  $ api7-audit show 5290                            one change as a before/after diff
  $ api7-audit list --all --output ndjson | jq .    everything, streamed

Connection: --db URL, else API7_AUDIT_DATABASE_URL, else DATABASE_URL, else database.url in the config file,
else the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
Config file: --config FILE, else API7_AUDIT_CONFIG, else ~/.config/api7-audit/config.yaml ($XDG_CONFIG_HOME), else
/etc/api7-audit/config.yaml; never one in the working directory.
Exit codes: 0 ok, 1 runtime failure (database, sink, unknown id, a lost connection), 2 bad input, 3 prune lock busy
(another prune of the table holds it; see prune --wait-lock), 130 interrupted.`;

/** The root command and the global flags every subcommand sees (typed through `optsWithGlobals()`). Never exits. */
export function declareProgram(io: CliIo) {
  return new Command('api7-audit')
    .description('Query, diff, prune and export the API7 control-plane audit log in PostgreSQL')
    .version(VERSION, '-V, --version')
    .option('--db <url>', 'PostgreSQL URL (postgres://user@host:5432/db?sslmode=require)')
    .option('--config <file>', 'YAML config file (default: API7_AUDIT_CONFIG, else ~/.config/api7-audit/config.yaml, else /etc/api7-audit/config.yaml)')
    .option('--table <name>', 'audit table, optionally schema-qualified (default: audit_logs)')
    .option('--demo', 'use an embedded demo database seeded with realistic entries')
    .addOption(new Option('--connect-timeout <seconds>', 'give up connecting after this long (default: 10)').argParser(parseSeconds))
    .option('--debug', 'print stack traces with errors')
    .option('--secret-fingerprints', 'show each secret as ******(hmac-sha256:<12 hex>) under the key in API7_AUDIT_FINGERPRINT_KEY or --fingerprint-key-file')
    .option('--fingerprint-key-file <file>', 'file holding the fingerprint key (instead of API7_AUDIT_FINGERPRINT_KEY)')
    .addHelpText('after', PROGRAM_HELP)
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride();
}

/** What a command's declaration hangs itself on: the root, with the global flags' types. */
export type Program = ReturnType<typeof declareProgram>;

/** The global flags as a command's action receives them (`command.optsWithGlobals()`). */
export type GlobalFlags = ReturnType<Program['opts']>;

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_CONNECT_TIMEOUT_S) {
    throw new UsageError(`invalid --connect-timeout '${value}': expected a positive number of seconds, at most ${MAX_CONNECT_TIMEOUT_S} (a day)`);
  }
  return seconds;
}
