import { Command, Option } from 'commander';
import type { CliIo } from './io.js';
import { UsageError } from './errors.js';
import type { GlobalFlags } from './config/resolve-config.js';
import { addFilterOptions } from './config/filter-flags.js';
import type { ListFlags } from './commands/list-flags.js';
import type { PruneFlags } from './commands/prune-flags.js';
import type { ExportFlags } from './commands/export-flags.js';
import { declareExportCommand } from './cli-export.js';
import type { ShowFlags } from './actions.js';
import { VERSION } from './version.js';
import { MAX_CONNECT_TIMEOUT_S } from './config/config-file.js';

/** What each subcommand does once commander has parsed its flags; tests may pass their own. */
export interface Actions {
  list(flags: ListFlags, global: GlobalFlags): Promise<void>;
  show(id: string, flags: ShowFlags, global: GlobalFlags): Promise<void>;
  prune(flags: PruneFlags, global: GlobalFlags): Promise<void>;
  export(flags: ExportFlags, global: GlobalFlags): Promise<void>;
}

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

const LIST_HELP = `
Examples:
  $ api7-audit list --since 24h
  $ api7-audit list --operator alice --operator bob --operation delete --since 7d
  $ api7-audit list --resource route:c0618158 --order asc
  $ api7-audit list --ip 10.0.0.0/8 --ip 2001:db8::/32 --output csv > changes.csv
  $ api7-audit list --since 30d --until 7d --all --output ndjson
  $ api7-audit list --limit 100 --cursor <value printed after the previous page>

--since is inclusive and --until exclusive: a duration before now (30m, 24h, 7d, 2w), taken against the database
clock, or an ISO 8601 time (2026-01-31, 2026-01-31T12:00:00Z; no zone = UTC).
Secrets in before/after (passwords, tokens, private keys, key-auth keys) print as "******" unless --show-secrets.`;

const SHOW_HELP = `
Examples:
  $ api7-audit show 5290
  $ api7-audit show 5290 --output json | jq '.changes'`;

const PRUNE_HELP = `
Examples:
  $ api7-audit prune --dry-run                            what would go, and the cutoff
  $ api7-audit prune --cp-config /usr/local/api7/conf/conf.yaml --yes
  $ api7-audit prune --retention-days 90 --archive pruned-$(date +%F).ndjson.gz --yes
  $ api7-audit prune --yes --max-duration 10m --json      from cron (see examples/prune.crontab)
  $ api7-audit prune --yes --only-exported /var/lib/api7-audit/hec.json   never delete what the SIEM lacks

Retention: --retention-days, else audit.retention_days in the control plane's conf.yaml (--cp-config), else
retention_days in the config file, else 60. The cutoff is now() - N days by the database clock, frozen at the start;
nothing at or after it is touched. Batches are short transactions in timestamp order: Ctrl-C or SIGTERM finishes
the current batch and exits 130, and the next run continues. Only one prune per table runs at a time: another one
exits 3 at once, naming the holder's pid and role, or with --wait-lock waits that long for the lock first (a prune
killed with -9 holds it until its last DELETE ends on the server). A lost connection prints the summary, then one
line, and exits 1. Partitions wholly before the cutoff (range partitioning on the timestamp) are dropped whole.
The archive is NDJSON (gzip for .gz), on disk before each batch commits; secrets in it are "******" unless
--show-secrets, which keeps a byte-exact backup. On a terminal, prune asks before deleting unless --yes.`;

const SECRET_FINGERPRINT_HELP = `
Reads one value from stdin (one trailing newline dropped; never from the command line, where others could see it)
and prints hmac-sha256:<12 hex>, which --secret-fingerprints shows for that value under the same key
(API7_AUDIT_FINGERPRINT_KEY, or --fingerprint-key-file FILE). To look for a leaked value in the history, grep for it:
api7-audit --secret-fingerprints list --all --output ndjson | grep -F hmac-sha256:<12 hex>`;

/** Declares commands and flags. Never exits: main.ts turns errors into exit codes. */
export function buildProgram(io: CliIo, actions: Actions): Command {
  const program = new Command('api7-audit')
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

  const list = program.command('list').description('list audit entries, newest first, with filters');
  addFilterOptions(list)
    .option('-n, --limit <n>', `entries to show (default: 50)`)
    .option('--all', 'every matching entry (streams; no limit)')
    .addOption(new Option('--order <order>', 'newest first (desc) or oldest first (asc)').choices(['desc', 'asc']).default('desc'))
    .option('--cursor <cursor>', 'continue after the last page (printed on stderr when more entries match)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'ndjson', 'csv']))
    .option('--json', 'shortcut for --output json')
    .option('--wide', 'table: every column and every value whole, even when wider than the terminal')
    .option('--show-secrets', 'print secret values instead of "******"')
    .addHelpText('after', LIST_HELP)
    .action((flags: ListFlags, command: Command) => actions.list(flags, command.optsWithGlobals()));

  program
    .command('show')
    .description('show one audit entry as a before/after diff')
    .argument('<id>', 'the entry id (from list)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--json', 'shortcut for --output json')
    .option('--show-secrets', 'print secret values instead of "******"')
    .addHelpText('after', SHOW_HELP)
    .action((id: string, flags: ShowFlags, command: Command) => actions.show(id, flags, command.optsWithGlobals()));

  program
    .command('prune')
    .description('delete entries older than the retention period, in short batches')
    .option('--retention-days <n>', 'keep this many days (default: from --cp-config, the config file, else 60)')
    .option('--cp-config <file>', "the control plane's conf.yaml, to use its audit.retention_days")
    .option('--dry-run', 'delete nothing; show how many entries would go, the oldest and newest, and the cutoff')
    .option('--batch-size <n>', 'entries per DELETE (default: sized to take about 40 ms each, starting at 1000)')
    .option('--max-duration <time>', 'stop cleanly after the batch that crosses this: 90s, 10m, 2h')
    .option('--wait-lock <time>', 'if another prune of the table is running, wait up to this long for it (90s, 10m) instead of exiting 3')
    .option('--archive <file>', 'append deleted entries to this NDJSON file (gzip when it ends in .gz)')
    .option('--detach-only', 'detach old partitions but keep them as tables instead of dropping them')
    .option('-y, --yes', 'do not ask for confirmation on a terminal')
    .option('--json', 'print the summary as one JSON object')
    .option('--show-secrets', 'archive secret values as they are instead of "******"')
    .option('--only-exported <checkpoint>', 'delete nothing after the position in this export checkpoint file')
    .addHelpText('after', PRUNE_HELP)
    .action((flags: PruneFlags, command: Command) => actions.prune(flags, command.optsWithGlobals()));

  declareExportCommand(program, (flags, global) => actions.export(flags, global));

  program
    .command('secret-fingerprint')
    .description('print the fingerprint of a value read from stdin, to look for a known secret in masked output')
    .requiredOption('--stdin', 'read the value from stdin (never from the command line); one trailing newline is dropped')
    .addHelpText('after', SECRET_FINGERPRINT_HELP)
    .action(async (_flags: { stdin: true }, command: Command) => {
      const { runSecretFingerprint } = await import('./commands/secret-fingerprint.js');
      await runSecretFingerprint(command.optsWithGlobals<GlobalFlags>(), io);
    });
  return program;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_CONNECT_TIMEOUT_S) {
    throw new UsageError(`invalid --connect-timeout '${value}': expected a positive number of seconds, at most ${MAX_CONNECT_TIMEOUT_S} (a day)`);
  }
  return seconds;
}
