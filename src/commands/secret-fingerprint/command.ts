import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';

const SECRET_FINGERPRINT_HELP = `
Reads one value from stdin (one trailing newline dropped; never from the command line, where others could see it)
and prints hmac-sha256:<12 hex>, which --secret-fingerprints shows for that value under the same key
(API7_AUDIT_FINGERPRINT_KEY, or --fingerprint-key-file FILE). To look for a leaked value in the history, grep for it:
api7-audit --secret-fingerprints list --all --output ndjson | grep -F hmac-sha256:<12 hex>`;

/** Registers `api7-audit secret-fingerprint --stdin`; it needs no database. */
export function declareSecretFingerprint(program: Program, io: CliIo): void {
  program
    .command('secret-fingerprint')
    .description('print the fingerprint of a value read from stdin, to look for a known secret in masked output')
    .requiredOption('--stdin', 'read the value from stdin (never from the command line); one trailing newline is dropped')
    .addHelpText('after', SECRET_FINGERPRINT_HELP)
    .action(async (_flags, command) => {
      const { runSecretFingerprint } = await import('./run.js');
      await runSecretFingerprint(command.optsWithGlobals(), io);
    });
}
