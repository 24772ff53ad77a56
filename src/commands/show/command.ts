import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { outputFormat, withOutputFlags } from '../flags/output.js';
import { deferInterrupts } from '../../interrupt.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';

const SHOW_HELP = `
Secrets print as "******"; one that changed is named under the diff by plugin and field (key-auth key). With
--secret-fingerprints each reads "key-auth key changed (fingerprint <12 hex> -> <12 hex>)".

Examples:
  $ api7-audit show 5290
  $ api7-audit show 5290 --output json | jq '.changes'`;

/** `api7-audit show ID`'s flags, declared once: their types are inferred from here. */
function showCommand(program: Program) {
  const show = program
    .command('show')
    .description('show one audit entry as a before/after diff')
    .argument('<id>', 'the entry id (from list)');
  return withOutputFlags(show, ['text', 'json'] as const).addHelpText('after', SHOW_HELP);
}

/** Registers `api7-audit show`; its run module loads only when it runs. */
export function declareShow(program: Program, io: CliIo): void {
  showCommand(program).action(async (id, flags, command) => {
    const options = { id, output: outputFormat(flags, 'text'), showSecrets: flags.showSecrets === true };
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    // show checks io.signal between its steps and prints nothing when stopped.
    deferInterrupts();
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runShow(options, config, io, early);
  });
}
