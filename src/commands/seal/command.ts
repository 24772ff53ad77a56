import { Option } from '@commander-js/extra-typings';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { UsageError } from '../../errors.js';
import { parseSpanMs } from '../../config/time-bound.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';
import { outputFormat } from '../flags/output.js';

const SEAL_HELP = `
Once, create the key pair: seal --new-key --key FILE writes the private key (mode 0600) to FILE and the public key
to FILE.pub, and prints the public key: give it to the auditors (verify --public-key). Then, from cron:
seal --key FILE --store DIR seals the entries written since the last seal (in timestamp, id order) up to the start
of the oldest open transaction (or --settle ago, if earlier): their count, first and last, and a SHA-256 over each
entry's stored values (docs/decisions/005-seal-canonical-encoding.md), chained to the previous seal and signed with
the Ed25519 key. Keep DIR away from the database host: whoever can rewrite the table must not be able to rewrite
the seals. Nothing new means nothing written.`;

function sealCommand(program: Program) {
  return program
    .command('seal')
    .description('seal the entries written since the last seal: a signed SHA-256 chain in a store outside the database')
    .requiredOption('--key <file>', 'Ed25519 private key (PEM, mode 0600) that signs the seals; with --new-key, where to create it')
    .option('--store <dir>', 'directory of seal files, outside the audited database')
    .option('--new-key', 'create the key pair (--key FILE and FILE.pub), print the public key, and stop')
    .addOption(new Option('--settle <time>', 'also leave entries younger than this for the next seal (default: 5s)'))
    .addOption(new Option('-o, --output <format>', 'output format (default: text)').choices(['text', 'json'] as const))
    .option('--json', 'shortcut for --output json: the new seal record (or why nothing was sealed) as one JSON object')
    .addHelpText('after', SEAL_HELP);
}

export type SealFlags = ReturnType<ReturnType<typeof sealCommand>['opts']>;

/** Registers `api7-audit seal`; its run module loads only when it runs. */
export function declareSeal(program: Program, io: CliIo): void {
  sealCommand(program).action(async (flags, command) => {
    if (flags.newKey) {
      const { runNewKey } = await import('./run.js');
      await runNewKey(flags.key, io);
      return;
    }
    if (flags.store === undefined) throw new UsageError('seal needs --store DIR (or --new-key to create a key)');
    const settleSeconds = parseSpanMs('--settle', flags.settle ?? '5s', 0) / 1000;
    const options = { store: flags.store, key: flags.key, json: outputFormat(flags, 'text') === 'json', settleSeconds };
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runSeal(options, config, io, early);
  });
}
