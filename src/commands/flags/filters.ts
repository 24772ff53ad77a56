import { Command, Option, type OptionValues } from '@commander-js/extra-typings';
import { UsageError } from '../../errors.js';
import { parseIpFilter, parseNonEmpty, parseResource } from '../../config/parse-flags.js';
import { checkTimeRange, parseTimeBound } from '../../config/time-bound.js';
import type { EntryFilters } from '../../domain.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The filters shared by list and export, declared once so both spell and document them the same way. */
export function withFilterFlags<Args extends unknown[], Opts extends OptionValues, Globals extends OptionValues>(command: Command<Args, Opts, Globals>) {
  return command
    .option('--since <when>', 'entries at or after this time: a duration ago (30m, 24h, 7d, 2w) or ISO 8601')
    .option('--until <when>', 'entries before this time (exclusive): a duration ago or ISO 8601')
    .addOption(new Option('--operator <name>', 'who made the change (repeat for either)').argParser(collect))
    .addOption(new Option('--operation <op>', 'CREATE, UPDATE, DELETE, LOGIN, ... case-insensitive (repeatable)').argParser(collect))
    .addOption(new Option('--resource <type[:id]>', 'resource type, optionally with id: route, route:r-123 (repeatable)').argParser(collect))
    .addOption(new Option('--ip <ip|cidr>', 'source IP or CIDR block, IPv4 or IPv6 (repeatable)').argParser(collect))
    .addOption(new Option('--source <source>', 'where the change came from: dashboard, api, adc (repeatable)').argParser(collect));
}

/** The filter flags as commander collects them (inferred from {@link withFilterFlags}): repeatable flags are arrays. */
export type FilterFlags = ReturnType<ReturnType<typeof withFilterFlags<[], Record<never, never>, Record<never, never>>>['opts']>;

/** Validates filter flags into typed filters; a bad value is a UsageError naming it. */
export function parseFilterFlags(flags: FilterFlags): EntryFilters {
  if (flags.since !== undefined && flags.until !== undefined) checkTimeRange({ flag: '--since', value: flags.since }, { flag: '--until', value: flags.until });
  return {
    since: flags.since === undefined ? undefined : parseTimeBound('--since', flags.since),
    until: flags.until === undefined ? undefined : parseTimeBound('--until', flags.until),
    operators: (flags.operator ?? []).map((value) => parseNonEmpty('--operator', value)),
    operations: (flags.operation ?? []).map((value) => parseNonEmpty('--operation', value)),
    resources: (flags.resource ?? []).map(parseResource),
    ips: (flags.ip ?? []).map(parseIpFlag),
    sources: (flags.source ?? []).map((value) => parseNonEmpty('--source', value)),
  };
}

/** `--ip`: Node accepts an IPv6 zone id (`fe80::1%eth0`), which PostgreSQL's inet refuses; it names no stored address. */
function parseIpFlag(value: string): string {
  const ip = parseIpFilter(value);
  const zone = /%[^/]*/.exec(ip);
  if (zone) throw new UsageError(`invalid --ip '${value}': a zone id (${zone[0]}) is not part of a stored address; use --ip ${ip.replace(zone[0], '')}`);
  return ip;
}
