import { resolve } from 'node:path';
import { Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { UsageError } from '../../errors.js';
import { parsePositiveInt } from '../../config/parse-flags.js';
import { parseSpanMs } from '../../config/time-bound.js';
import { deferInterrupts } from '../../interrupt.js';
import { resolveCommandConfig } from '../session.js';
import { outputFormat } from '../flags/output.js';
import { resolveRetention, type PruneFlagContext } from '../../config/retention.js';
import { readExportedPosition } from './only-exported.js';
import type { PruneOptions } from './options.js';

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
The archive is NDJSON (gzip for .gz), on disk before each batch commits, written by one prune at a time (FILE.lock
beside it; another prune exits 3 or waits with --wait-lock); secrets in it are "******" unless
--show-secrets, which keeps a byte-exact backup. On a terminal, prune asks before deleting unless --yes; answering no
prints "Nothing deleted: the prompt was declined." and exits 1.`;

/** `api7-audit prune`'s flags, declared once: their types are inferred from here. */
function pruneCommand(program: Program) {
  return program
    .command('prune')
    .description('delete entries older than the retention period, in short batches')
    .option('--retention-days <n>', 'keep this many days (default: from --cp-config, the config file, else 60)')
    .option('--cp-config <file>', "the control plane's conf.yaml, to use its audit.retention_days")
    .option('--dry-run', 'delete nothing; show how many entries would go, the oldest and newest, and the cutoff')
    .option('--batch-size <n>', 'entries per DELETE (default: sized to take about 40 ms each, starting at 1000)')
    .option('--max-duration <time>', 'stop cleanly after the batch that crosses this: 90s, 10m, 2h')
    .option('--wait-lock <time>', 'if another prune of the table (or of the --archive file) is running, wait up to this long for it (90s, 10m) instead of exiting 3')
    .option('--archive <file>', 'append deleted entries to this NDJSON file (gzip when it ends in .gz)')
    .option('--detach-only', 'detach old partitions but keep them as tables instead of dropping them')
    .option('-y, --yes', 'do not ask for confirmation on a terminal')
    .addOption(new Option('-o, --output <format>', 'summary format (default: text)').choices(['text', 'json'] as const))
    .option('--json', 'shortcut for --output json: the summary as one JSON object')
    .option('-q, --quiet', 'print nothing but errors (no progress, no summary)')
    .option('--show-secrets', 'archive secret values as they are instead of "******"')
    .option('--only-exported <checkpoint>', 'delete nothing after the position in this export checkpoint file')
    .option('--seal-store <dir>', 'before deleting, write a signed "pruned up to" record to this seal store (with --seal-key), so verify expects the entries gone')
    .option('--seal-key <file>', 'the Ed25519 key that signs the seals (seal --new-key), for --seal-store')
    .addHelpText('after', PRUNE_HELP);
}

/** The flags as commander hands them to the action; values are validated by `parsePruneFlags`. */
export type PruneFlags = ReturnType<ReturnType<typeof pruneCommand>['opts']>;

/** Registers `api7-audit prune`; its run module loads only when it runs. */
export function declarePrune(program: Program, io: CliIo): void {
  pruneCommand(program).action(async (flags, command) => {
    checkQuiet(flags, io);
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    const options = await parsePruneFlags(flags, { cwd: io.cwd, configRetentionDays: config.retentionDays });
    // prune finishes its batch, prints its summary and exits 130.
    deferInterrupts();
    const [{ runPrune }, { quietIo }] = await Promise.all([import('./run.js'), import('../../output/quiet.js')]);
    await runPrune(options, config, flags.quiet ? quietIo(io) : io);
  });
}

/** `--quiet` prints only errors: not with a JSON summary asked for, nor alone on a terminal where prune would ask. */
function checkQuiet(flags: PruneFlags, io: CliIo): void {
  if (!flags.quiet) return;
  if (flags.json || flags.output === 'json') throw new UsageError('--quiet conflicts with --output json: one asks for no summary, the other for one');
  if (!flags.yes && !flags.dryRun && io.stderrIsTty && io.stdin?.isTTY === true) {
    throw new UsageError('--quiet on a terminal needs --yes: the confirmation prompt would be all it printed');
  }
}

/**
 * Rows per DELETE when `--batch-size` is not given: sized batch by batch to a time budget (prune-batch-size.ts), so
 * that no statement comes near 250 ms on a slow or busy server, nor wastes round trips on a fast one. A number given
 * with `--batch-size` is used for every batch as it is.
 */
export const DEFAULT_BATCH_SIZE = 'auto';
export const MAX_BATCH_SIZE = 100_000;

/** Turns commander's raw flags into typed prune options; every bad value is a UsageError naming it. */
export async function parsePruneFlags(flags: PruneFlags, context: PruneFlagContext): Promise<PruneOptions> {
  const batchSize = flags.batchSize === undefined ? DEFAULT_BATCH_SIZE : parsePositiveInt('--batch-size', flags.batchSize, MAX_BATCH_SIZE);
  const maxDurationMs = flags.maxDuration === undefined ? undefined : parseSpanMs('--max-duration', flags.maxDuration);
  const waitLockMs = flags.waitLock === undefined ? undefined : parseSpanMs('--wait-lock', flags.waitLock);
  const retention = await resolveRetention(flags, context);
  return {
    retention,
    dryRun: flags.dryRun === true,
    batchSize,
    maxDurationMs,
    waitLockMs,
    archive: flags.archive === undefined ? undefined : parseArchivePath(flags.archive, context.cwd),
    detachOnly: flags.detachOnly === true,
    yes: flags.yes === true,
    output: outputFormat(flags, 'text'),
    showSecrets: flags.showSecrets === true,
    onlyExported: flags.onlyExported === undefined ? undefined : await readExportedPosition(resolve(context.cwd, flags.onlyExported)),
    recordPrune: await (await import('../../seal/prune-record.js')).pruneRecordFromFlags(flags, context.cwd),
  };
}

function parseArchivePath(value: string, cwd: string): string {
  if (value.trim() === '' || value === '-') {
    throw new UsageError(`invalid --archive '${value}': expected a file path (NDJSON, gzip when it ends in .gz)`);
  }
  return resolve(cwd, value);
}
