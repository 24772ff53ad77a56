import { Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';
import { outputFormat } from '../flags/output.js';
import { parseSpanMs } from '../../config/time-bound.js';

const VERIFY_HELP = `
verify --public-key FILE.pub --store DIR recomputes every seal's chain from the database and reports, per seal
range, intact or what changed: entries modified (id and fields), deleted (position and neighbours), inserted into
a sealed range; a seal file edited (its signature), missing, or its leaves altered. Entries older than a signed
prune record's cutoff (prune --seal-store) may be gone; --archive files (prune archives, export --out, list
--output ndjson; .gz too) show where they went, and lines written with --show-secrets are checked against the
seal. With --unsealed-max-age TIME, entries older than TIME that no seal covers are a problem too: the newest seal
files were removed, or seal stopped. --json prints the report as one object, for monitoring. Exit 0 only if
everything checked is intact, 4 if anything is not (tampered, missing, unverifiable), 1 if the check could not run,
2 for bad input.`;

function verifyCommand(program: Program) {
  return program
    .command('verify')
    .description('check the audit table against its seals: what was modified, deleted or inserted since')
    .requiredOption('--store <dir>', 'directory of seal files that seal wrote')
    .requiredOption('--public-key <file>', 'the Ed25519 public key (PEM, the .pub of seal --new-key) the seals must be signed with')
    .option('--archive <files...>', 'NDJSON files (prune --archive, export --out; .gz too) holding pruned entries')
    .option('--unsealed-max-age <time>', 'not intact if an entry older than this is not sealed: seal stopped, or its newest files were removed (e.g. 1h)')
    .addOption(new Option('-o, --output <format>', 'output format (default: text)').choices(['text', 'json'] as const))
    .option('--json', 'shortcut for --output json: the report as one JSON object')
    .addHelpText('after', VERIFY_HELP);
}

export type VerifyFlags = ReturnType<ReturnType<typeof verifyCommand>['opts']>;

/** Registers `api7-audit verify`; its run module loads only when it runs. */
export function declareVerify(program: Program, io: CliIo): void {
  verifyCommand(program).action(async (flags, command) => {
    const unsealedMaxAgeSeconds = flags.unsealedMaxAge === undefined ? undefined : parseSpanMs('--unsealed-max-age', flags.unsealedMaxAge) / 1000;
    const options = { store: flags.store, publicKey: flags.publicKey, archives: flags.archive ?? [], json: outputFormat(flags, 'text') === 'json', unsealedMaxAgeSeconds };
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runVerify(options, config, io, early);
  });
}
