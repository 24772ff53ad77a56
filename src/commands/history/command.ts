import { Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { UsageError } from '../../errors.js';
import { parseFilterFlags, withFilterFlags } from '../flags/filters.js';
import { outputFormat, withOutputFlags } from '../flags/output.js';
import { parseTimeBound } from '../../config/time-bound.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';
import type { HistoryMode, HistoryOptions } from './run.js';

const HISTORY_HELP = `
Examples:
  $ api7-audit --demo history route:c0618158            every change, oldest first, with what it changed
  $ api7-audit history route:c0618158 --at 4d            the route as it was 4 days ago (JSON)
  $ api7-audit history route:c0618158 --diff 5d..1d      one diff: the route 5 days ago against 1 day ago
  $ api7-audit history route:billing-webhook --operator alice --output ndjson

TIME (for --at, --between, --diff) is a duration before now (30m, 24h, 7d) by the database clock, or ISO 8601.
The state at a time is the "after" of the resource's last entry at or before it: absent when that entry deleted
it or when no entry is that old. When the oldest entry is an UPDATE or DELETE, older entries were pruned: stderr
says so, and a state before it is "unknown" rather than absent. Secrets print as "******" unless --show-secrets.`;

function historyCommand(program: Program) {
  const history = withFilterFlags(
    program
      .command('history')
      .description("one resource's timeline: every change with what it changed, or its state at a time")
      .argument('<type:id>', 'the resource, as list shows it: route:c0618158'),
  )
    .option('--at <time>', "the resource's state at this time, as JSON with the entry that produced it")
    .option('--between <times...>', 'two times: one diff of the state at the first against the state at the second')
    .option('--diff <t1..t2>', 'the same as --between T1 T2')
    .addOption(new Option('--order <order>', 'oldest first (asc) or newest first (desc)').choices(['asc', 'desc'] as const).default('asc' as const));
  return withOutputFlags(history, ['table', 'json', 'ndjson'] as const).addHelpText('after', HISTORY_HELP);
}

export type HistoryFlags = ReturnType<ReturnType<typeof historyCommand>['opts']>;

/** Registers `api7-audit history`; its run module loads only when it runs. */
export function declareHistory(program: Program, io: CliIo): void {
  historyCommand(program).action(async (resource, flags, command) => {
    const options = parseHistoryFlags(resource, flags);
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runHistory(options, config, io, early);
  });
}

export function parseHistoryFlags(resource: string, flags: HistoryFlags): HistoryOptions {
  const filters = parseFilterFlags(flags);
  if (filters.resources.length > 0) throw new UsageError('--resource cannot be used with history: the resource is its argument (history TYPE:ID)');
  return {
    resource: parseResourceKey(resource),
    mode: parseMode(flags),
    filters,
    order: flags.order,
    output: outputFormat(flags, 'table'),
    showSecrets: flags.showSecrets === true,
  };
}

function parseResourceKey(value: string): { type: string; id: string } {
  const colon = value.indexOf(':');
  const type = colon < 0 ? '' : value.slice(0, colon).trim();
  const id = colon < 0 ? '' : value.slice(colon + 1);
  if (type === '' || id === '') throw new UsageError(`invalid resource '${value}': expected TYPE:ID, for example route:c0618158`);
  return { type, id };
}

function parseMode(flags: HistoryFlags): HistoryMode {
  const given = [flags.at, flags.between, flags.diff].filter((value) => value !== undefined).length;
  if (given > 1) throw new UsageError('--at, --between and --diff cannot be combined: give one');
  if (flags.at !== undefined) return { kind: 'at', at: parseTimeBound('--at', flags.at) };
  if (flags.between !== undefined) {
    const [from, to, ...rest] = flags.between;
    if (from === undefined || to === undefined || rest.length > 0) {
      throw new UsageError(`invalid --between '${flags.between.join(' ')}': expected two times, --between T1 T2`);
    }
    return { kind: 'between', from: parseTimeBound('--between', from), to: parseTimeBound('--between', to) };
  }
  if (flags.diff !== undefined) {
    const parts = flags.diff.split('..');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new UsageError(`invalid --diff '${flags.diff}': expected T1..T2, for example 7d..1d`);
    return { kind: 'between', from: parseTimeBound('--diff', parts[0]), to: parseTimeBound('--diff', parts[1]) };
  }
  return { kind: 'timeline' };
}
