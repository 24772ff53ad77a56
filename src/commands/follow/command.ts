import { Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { UsageError } from '../../errors.js';
import { deferInterrupts } from '../../interrupt.js';
import { parseFilterFlags, withFilterFlags } from '../flags/filters.js';
import { parseDurationFlag } from '../../config/duration.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';
import type { FollowOptions, FollowStart } from './run.js';

const FOLLOW_HELP = `
Examples:
  $ api7-audit follow --since 1h --for 3s                    the last hour, then new entries for 3 s
  $ api7-audit follow --operation delete --output ndjson --since 7d --for 3s | jq -c .
  $ api7-audit follow --since 1d --resource route --for 2s

Without --for it runs until Ctrl-C; without --since it starts now. To continue where a follow stopped, pass the
--cursor it printed on stderr.

Every --interval (default 1s) one query reads what was committed since the last entry printed, in (time, id)
order. No entry is skipped, not even one whose transaction commits late: like export, a poll stops before the start
of the oldest transaction still open in the database (or --settle ago, default 2s), and the rest waits for a later
poll; no entry is printed twice. A lost connection is retried with backoff (said on stderr) and following goes on
from the last entry printed. Ctrl-C stops at once (exit 0) and prints a --cursor to continue from.`;

function followCommand(program: Program) {
  return withFilterFlags(program.command('follow').description('print entries as they are committed, like tail -f (until Ctrl-C)'))
    .option('--cursor <cursor>', 'start after this position (printed when a follow stops, or by list --order asc)')
    .option('--interval <time>', 'time between polls (default: 1s)')
    .option('--for <time>', 'stop after following this long (exit 0), as in a script: 30s, 10m')
    .option('--settle <time>', 'also wait this long for entries whose transaction start is not visible (default: 2s)')
    .addOption(new Option('-o, --output <format>', 'output format (default: table)').choices(['table', 'ndjson', 'csv'] as const))
    .option('--wide', 'table: every column and every value whole, even when wider than the terminal')
    .option('--show-secrets', 'print secret values instead of "******"')
    .addHelpText('after', FOLLOW_HELP);
}

export type FollowFlags = ReturnType<ReturnType<typeof followCommand>['opts']>;

export function declareFollow(program: Program, io: CliIo): void {
  followCommand(program).action(async (flags, command) => {
    const options = await parseFollowFlags(flags);
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    // follow watches io.signal: Ctrl-C ends it at once with exit 0.
    deferInterrupts();
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runFollow(options, config, io, early);
  });
}

/** Turns the flags into follow options; the cursor decoder (and what it imports) loads only when --cursor is given. */
export async function parseFollowFlags(flags: FollowFlags): Promise<FollowOptions> {
  const filters = parseFilterFlags(flags);
  if (filters.until) throw new UsageError('--until cannot be used with follow, which has no end: use list --since ... --until ...');
  if (filters.since && flags.cursor !== undefined) throw new UsageError('--since and --cursor cannot be combined: the cursor says where to start');
  const { since, ...rest } = filters;
  const start: FollowStart = flags.cursor !== undefined
    ? { kind: 'cursor', cursor: (await import('../../queries/cursor.js')).decodeCursor(flags.cursor) }
    : since ? { kind: 'since', since } : { kind: 'now' };
  return {
    filters: { ...rest },
    start,
    output: flags.output ?? 'table',
    intervalMs: flags.interval === undefined ? 1000 : parseDurationFlag('--interval', flags.interval, { minMs: 10 }).ms,
    settleSeconds: (flags.settle === undefined ? 2000 : parseDurationFlag('--settle', flags.settle, { minMs: 0 }).ms) / 1000,
    showSecrets: flags.showSecrets === true,
    wide: flags.wide === true,
    forMs: flags.for === undefined ? undefined : parseDurationFlag('--for', flags.for).ms,
  };
}
