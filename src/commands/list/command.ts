import { Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { parseFilterFlags, withFilterFlags } from '../flags/filters.js';
import { outputFormat, withOutputFlags } from '../flags/output.js';
import { parsePositiveInt } from '../../config/parse-flags.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';
import { unknownFilterWarnings } from '../../config/known-values.js';
import { UsageError } from '../../errors.js';
import type { ListOptions } from './run.js';

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

export const DEFAULT_LIMIT = 50;

/** `api7-audit list`'s flags, declared once: their types are inferred from here. */
function listCommand(program: Program) {
  const list = withFilterFlags(program.command('list').description('list audit entries, newest first, with filters'))
    .addOption(new Option('-n, --limit <n>', `entries to show (default: ${DEFAULT_LIMIT})`).argParser((value) => parsePositiveInt('--limit', value)).conflicts('all'))
    .option('--all', 'every matching entry (streams; no limit)')
    .addOption(new Option('--order <order>', 'newest first (desc) or oldest first (asc)').choices(['desc', 'asc'] as const).default('desc' as const))
    .option('--cursor <cursor>', 'continue after the last page (printed on stderr when more entries match)');
  return withOutputFlags(list, ['table', 'json', 'ndjson', 'csv'] as const)
    .option('--wide', 'table: every column and every value whole, even when wider than the terminal')
    .option('--fields <list>', 'comma-separated: the keys of JSON/NDJSON entries and CSV columns (id,timestamp,operator,...), or the table columns (also resource)')
    .option('--jq <expression>', 'filter the JSON output with jq (as gh does); strings print raw')
    .option('--with-cursor', 'JSON: print {"entries": [...], "next_cursor": ...} so a script can page')
    .option('--local', 'table: times in the local zone (TZ) instead of UTC; API7_AUDIT_TZ names a zone')
    .option('--no-pager', 'do not page the table on a terminal (also: API7_AUDIT_PAGER= or PAGER=)')
    .addHelpText('after', LIST_HELP);
}

/** The flags as commander hands them to the action. */
export type ListFlags = ReturnType<ReturnType<typeof listCommand>['opts']>;

/** Registers `api7-audit list`; its run module (pg, Kysely, formatters) loads only when it runs. */
export function declareList(program: Program, io: CliIo): void {
  listCommand(program).action(async (flags, command) => {
    const options = await parseListFlags(flags, io.env);
    for (const warning of unknownFilterWarnings(options.filters)) io.stderr.write(`${warning}\n`);
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runList(options, config, io, early);
  });
}

/** Turns the parsed flags into typed list options; a bad value is a UsageError naming it. */
export async function parseListFlags(flags: ListFlags, env: NodeJS.ProcessEnv = {}): Promise<ListOptions> {
  // Loaded here, not at the top, and only for the flags that need them: --help and --version load none, and a plain
  // `list --since 7d` starts connecting without first loading the cursor and field parsers (and through them the
  // table and chalk) one import after the other.
  const { resolveTimeZone } = await import('../../output/time-zone.js');
  const output = jsonWhenAsked(flags);
  if (flags.jq !== undefined) await (await import('../../output/jq.js')).checkJq(flags.jq);
  // The same order of checks as ever: the filters, --cursor, --fields, then the zone.
  const filters = parseFilterFlags(flags);
  const cursor = flags.cursor === undefined ? undefined : (await import('../../queries/cursor.js')).decodeCursor(flags.cursor);
  const fields = flags.fields === undefined ? undefined : await parseFieldsFlag(flags.fields, output === 'table');
  return {
    filters,
    order: flags.order,
    limit: flags.all ? null : (flags.limit ?? DEFAULT_LIMIT),
    cursor,
    output,
    showSecrets: flags.showSecrets === true,
    wide: flags.wide === true,
    print: {
      fields,
      jq: flags.jq,
      withCursor: flags.withCursor === true,
      timeZone: resolveTimeZone(flags.local === true, env),
      noPager: flags.pager === false,
    },
  };
}

/** `--fields`: table columns for the table, the entries' keys for the other formats. */
async function parseFieldsFlag(value: string, table: boolean): Promise<readonly string[]> {
  const { parseFields } = await import('../../output/fields.js');
  return table ? parseFields(value, true) : parseFields(value, false);
}

/** `--jq` and `--with-cursor` work on JSON: they choose it, and refuse another format named with them. */
function jsonWhenAsked(flags: ListFlags): ReturnType<typeof outputFormat<'table' | 'json' | 'ndjson' | 'csv'>> {
  const output = outputFormat(flags, 'table');
  const wanting = flags.jq !== undefined ? '--jq' : flags.withCursor ? '--with-cursor' : undefined;
  if (wanting === undefined) return output;
  if (flags.output !== undefined && output !== 'json') throw new UsageError(`${wanting} works on JSON output: it cannot be used with --output ${output}`);
  return 'json';
}
