import { Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { UsageError } from '../../errors.js';
import { parseFilterFlags, withFilterFlags } from '../flags/filters.js';
import { outputFormat } from '../flags/output.js';
import { parsePositiveInt } from '../../config/parse-flags.js';
import { parseTimeBound } from '../../config/time-bound.js';
import { DIMENSIONS, type Dimension } from '../../config/stats-dimensions.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';
import type { StatsOptions } from './run.js';

const STATS_HELP = `
Examples:
  $ api7-audit --demo stats                                  who, what, which resources, per day, hour x weekday
  $ api7-audit stats --since 7d --by operator,operation
  $ api7-audit stats --since 30d --by operator,day           a sparkline per operator
  $ api7-audit stats --since 120d --by net --output csv

--by takes one or two of: ${DIMENSIONS.join(', ')} (net: the /24 or /64 network of the source IP;
day, hour and weekday in UTC). Without --since, the last 30 days. PostgreSQL counts (one GROUP BY per view).
Unusual (with --since, when operators are counted): an operator's first change ever; a day with more than
--unusual-factor times the operator's median day (over the window and the 28 days before it, at least 3 active
days); a source IP the operator never used before. On a terminal: bars, sparklines and a heat map in Unicode block
characters (ASCII when the locale is not UTF-8, or --ascii), with the numbers beside them.`;

function statsCommand(program: Program) {
  return withFilterFlags(program.command('stats').description('counts of changes grouped by operator, operation, resource, IP, time; with pictures on a terminal'))
    .option('--by <dimensions>', `one or two of ${DIMENSIONS.join(', ')}, comma-separated`)
    .addOption(new Option('--top <n>', 'groups drawn per picture (default: 15); json and csv have all').argParser((value) => parsePositiveInt('--top', value)))
    .addOption(new Option('--unusual-factor <n>', "mark a day busier than N times the operator's median day (default: 3)").argParser(parseFactor))
    .option('--ascii', 'draw with ASCII characters instead of Unicode blocks')
    .addOption(new Option('-o, --output <format>', 'output format (default: table)').choices(['table', 'json', 'csv'] as const))
    .option('--json', 'shortcut for --output json')
    .addHelpText('after', STATS_HELP);
}

export type StatsFlags = ReturnType<ReturnType<typeof statsCommand>['opts']>;

export function declareStats(program: Program, io: CliIo): void {
  statsCommand(program).action(async (flags, command) => {
    const options = parseStatsFlags(flags);
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runStats(options, config, io, early);
  });
}

export function parseStatsFlags(flags: StatsFlags): StatsOptions {
  const filters = parseFilterFlags(flags);
  const defaultSince = filters.since === undefined && filters.until === undefined;
  return {
    filters: defaultSince ? { ...filters, since: parseTimeBound('--since', '30d') } : filters,
    by: flags.by === undefined ? undefined : parseBy(flags.by),
    output: outputFormat(flags, 'table'),
    top: flags.top ?? 15,
    factor: flags.unusualFactor ?? 3,
    ascii: flags.ascii === true,
    defaultSince,
  };
}

function parseBy(value: string): Dimension[] {
  const parts = value.split(',').map((part) => part.trim().toLowerCase());
  const known = new Set<string>(DIMENSIONS);
  const unknown = parts.find((part) => !known.has(part));
  if (unknown !== undefined || parts.length > 2 || new Set(parts).size !== parts.length) {
    throw new UsageError(`invalid --by '${value}': expected one or two different dimensions of ${DIMENSIONS.join(', ')}, such as operator,operation`);
  }
  return parts as Dimension[];
}

function parseFactor(value: string): number {
  const factor = Number(value);
  if (value.trim() === '' || !Number.isFinite(factor) || factor <= 1 || factor > 1000) {
    throw new UsageError(`invalid --unusual-factor '${value}': expected a number above 1, at most 1000`);
  }
  return factor;
}
