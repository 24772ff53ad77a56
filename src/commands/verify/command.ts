import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';

const VERIFY_HELP = `
verify --public-key FILE.pub --store DIR recomputes every seal's chain from the database and reports, per seal
range, intact or what changed: entries modified (id and fields), deleted (position and neighbours), inserted into
a sealed range; a seal file edited (its signature), missing, or its leaves altered. Entries older than a signed
prune record's cutoff (prune --seal-store) may be gone; --archive files (prune archives, export --out, list
--output ndjson; .gz too) show where they went, and lines written with --show-secrets are checked against the
seal. --json prints the report as one object, for monitoring. Exit 0 only if everything checked is intact, 4 if
anything is not (tampered, missing, unverifiable), 1 if the check could not run, 2 for bad input.`;

function verifyCommand(program: Program) {
  return program
    .command('verify')
    .description('check the audit table against its seals: what was modified, deleted or inserted since')
    .requiredOption('--store <dir>', 'directory of seal files that seal wrote')
    .requiredOption('--public-key <file>', 'the Ed25519 public key (PEM, the .pub of seal --new-key) the seals must be signed with')
    .option('--archive <files...>', 'NDJSON files (prune --archive, export --out; .gz too) holding pruned entries')
    .option('--json', 'print the report as one JSON object')
    .addHelpText('after', VERIFY_HELP);
}

export type VerifyFlags = ReturnType<ReturnType<typeof verifyCommand>['opts']>;

/** Registers `api7-audit verify`; its run module loads only when it runs. */
export function declareVerify(program: Program, io: CliIo): void {
  verifyCommand(program).action(async (flags, command) => {
    const options = { store: flags.store, publicKey: flags.publicKey, archives: flags.archive ?? [], json: flags.json === true };
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runVerify(options, config, io, early);
  });
}
