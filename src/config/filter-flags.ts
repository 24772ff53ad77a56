import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import type { EntryFilters } from '../queries/filters.js';
import { parseIpFilter, parseNonEmpty, parseResource } from './parse-flags.js';
import { parseTimeBound } from './time-bound.js';

/** Raw filter flags as commander collects them: repeatable flags are arrays. */
export interface FilterFlags {
  since?: string;
  until?: string;
  operator?: string[];
  operation?: string[];
  resource?: string[];
  ip?: string[];
  source?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Declares the filters shared by list and export, so both spell and document them the same way. */
export function addFilterOptions(command: Command): Command {
  return command
    .option('--since <when>', 'entries at or after this time: a duration ago (30m, 24h, 7d, 2w) or ISO 8601')
    .option('--until <when>', 'entries before this time (exclusive): a duration ago or ISO 8601')
    .addOption(new Option('--operator <name>', 'who made the change (repeat for either)').argParser(collect))
    .addOption(new Option('--operation <op>', 'CREATE, UPDATE, DELETE, LOGIN, ... case-insensitive (repeatable)').argParser(collect))
    .addOption(new Option('--resource <type[:id]>', 'resource type, optionally with id: route, route:r-123 (repeatable)').argParser(collect))
    .addOption(new Option('--ip <ip|cidr>', 'source IP or CIDR block, IPv4 or IPv6 (repeatable)').argParser(collect))
    .addOption(new Option('--source <source>', 'where the change came from: dashboard, api, adc (repeatable)').argParser(collect));
}

/** Validates filter flags into typed filters; a bad value is a UsageError naming it. */
export function parseFilterFlags(flags: FilterFlags): EntryFilters {
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
