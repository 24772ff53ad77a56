import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { resolveCommandConfig } from '../session.js';

const DOCTOR_HELP = `
Examples:
  $ api7-audit doctor                                          the checklist, with a fix under each warning
  $ api7-audit doctor --json | jq '.checks[] | select(.status != "ok")'
  api7-audit doctor --cp-config /usr/local/api7/conf/conf.yaml --checkpoint /var/lib/api7-audit/hec.json

One line per check, [ok], [warn] or [FAIL] (marks on a UTF-8 terminal), with the fix: the configuration and
where each setting came from, the connection (version, TLS, round trip, clock), the table (mapping, size,
partitions), privileges (SELECT, DELETE, ownership, prune's lock), an index for each filter, prune and export
(EXPLAIN, never ANALYZE), retention (overdue entries by estimate) and, with --checkpoint, how far an export is behind.
Exit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 bad input.`;

function doctorCommand(program: Program) {
  return program
    .command('doctor')
    .description('check the connection, the table, privileges, indexes, retention and an export checkpoint')
    .option('--retention-days <n>', 'the retention to check against (default: from --cp-config, the config file, else 60)')
    .option('--cp-config <file>', "the control plane's conf.yaml: its audit.retention_days, and whether its own cleanup runs")
    .option('--checkpoint <file>', 'an export checkpoint: how far behind it is, and whether prune --only-exported can use it')
    .option('--json', 'print the checks as JSON, for monitoring')
    .addHelpText('after', DOCTOR_HELP);
}

/** Registers `api7-audit doctor`; its run module loads only when it runs. */
export function declareDoctor(program: Program, io: CliIo): void {
  doctorCommand(program).action(async (flags, command) => {
    const global = command.optsWithGlobals();
    const config = await resolveCommandConfig(global, io);
    const { runDoctor } = await import('./run.js');
    await runDoctor({ json: flags.json === true, retentionDays: flags.retentionDays, cpConfig: flags.cpConfig, checkpoint: flags.checkpoint }, config, global, io);
  });
}
