import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { withFilterFlags } from '../flags/filters.js';
import { deferInterrupts } from '../../interrupt.js';
import { resolveCommandConfig } from '../session.js';

const EXPORT_HELP = `
Exactly one destination per run. Credentials come from the environment (API7_AUDIT_HEC_TOKEN,
API7_AUDIT_ELASTIC_API_KEY, DD_API_KEY) or a --*-file; on the command line they work but warn.

Examples:
  $ export API7_AUDIT_HEC_TOKEN=...   # or --hec-token-file /run/secrets/hec
  $ api7-audit export --hec-url https://splunk.example.com:8088 --checkpoint /var/lib/api7-audit/hec.json
  $ api7-audit export --elastic-url https://es.example.com:9200 --elastic-index api7-audit --since 30d
  $ api7-audit export --datadog-site datadoghq.eu --datadog-tags env:prod,team:platform --checkpoint dd.json
  $ api7-audit export --out audit-$(date +%F).ndjson.gz --since 30d --until 1d
  $ api7-audit export --out - --operator alice | jq .
  $ api7-audit export --hec-url https://splunk:8088 --checkpoint hec.json --dry-run

Entries are sent oldest first, in (timestamp, id) order. With --checkpoint FILE, the position of the last entry the
destination confirmed is kept in FILE (replaced atomically) with the run's filters and destination kind; the next
run continues after it (with the same filters), so a job run every 10 minutes ships each entry once. Entries newer
than the start of the oldest open transaction in the database, or younger than --settle (default 5s), wait for the
next run, so a transaction that commits late is not skipped (seeing other sessions' transactions needs
pg_read_all_stats; without it the run warns and relies on --settle). Network errors, 408, 429 and 5xx are
retried with backoff (honouring Retry-After) up to --max-retry-time; other 4xx stop the run at once with what the
destination answered.
--out FILE appends to an existing FILE (one of this tool's) and never truncates it: without --checkpoint, a rerun
appends the same entries again.`;

/** `api7-audit export`'s flags, declared once: their types are inferred from here. */
function exportCommand(program: Program) {
  return withFilterFlags(program.command('export').description('push entries to Splunk HEC, Elasticsearch, Datadog or an NDJSON file'))
    .optionsGroup('Splunk HEC:')
    .option('--hec-url <url>', 'HEC base URL, e.g. https://splunk:8088')
    .option('--hec-token-file <file>', 'file holding the HEC token (else API7_AUDIT_HEC_TOKEN)')
    .option('--hec-token <token>', 'the HEC token (visible to other users: prefer the variable or the file)')
    .option('--hec-index <index>', 'target index (default: the token\'s)')
    .option('--hec-sourcetype <type>', 'event sourcetype (default: api7:audit)')
    .option('--hec-source <source>', 'event source (default: api7-audit)')
    .option('--hec-host <host>', 'event host (default: this machine)')
    .option('--hec-ack', 'count a batch as delivered only once the indexers acknowledge it')
    .optionsGroup('Elasticsearch:')
    .option('--elastic-url <url>', 'cluster URL, e.g. https://es:9200 (https://USER:PASSWORD@es:9200 for basic auth instead of an API key)')
    .option('--elastic-api-key-file <file>', 'file holding the API key (else API7_AUDIT_ELASTIC_API_KEY)')
    .option('--elastic-api-key <key>', 'the API key (visible to other users: prefer the variable or the file)')
    .option('--elastic-index <index>', 'index or data stream (default: api7-audit)')
    .optionsGroup('Datadog:')
    .option('--datadog-site <site>', 'datadoghq.com, datadoghq.eu, us3.datadoghq.com, ...')
    .option('--datadog-url <url>', 'logs intake URL instead of the site\'s')
    .option('--datadog-api-key-file <file>', 'file holding the API key (else DD_API_KEY)')
    .option('--datadog-api-key <key>', 'the API key (visible to other users: prefer the variable or the file)')
    .option('--datadog-service <name>', 'service attribute (default: api7-audit)')
    .option('--datadog-tags <tags>', 'ddtags, e.g. env:prod,team:platform')
    .optionsGroup('File:')
    .option('--out <file>', 'append NDJSON to FILE (gzip when it ends in .gz), or - for stdout')
    .optionsGroup('Delivery:')
    .option('--checkpoint <file>', 'continue after the position in FILE and record progress there')
    .option('--settle <time>', 'also leave entries younger than this for the next run (default: 5s)')
    .option('--gzip', 'compress request bodies (Content-Encoding: gzip)')
    .option('--concurrency <n>', 'requests in flight (default: 4)')
    .option('--batch-size <n>', 'entries per request (default: per destination)')
    .option('--timeout <time>', 'per-request timeout (default: 30s)')
    .option('--max-retry-time <time>', 'give up on a batch after retrying this long (default: 5m)')
    .option('--ca-file <file>', 'trust the CA certificates (PEM) in FILE for an https:// destination')
    .option('--insecure', 'accept any TLS certificate (test clusters only)')
    .option('--rejects <file>', 'append entries too large for the destination here, whole (they are sent reduced)')
    .optionsGroup('Output:')
    .option('--dry-run', 'send nothing; print how many entries would go, and the first and last')
    .option('--json', 'print the summary as one JSON object on stdout')
    .option('--show-secrets', 'send secret values instead of "******"')
    .addHelpText('after', EXPORT_HELP);
}

/** The flags as commander hands them to the action; values are validated by `parseExportFlags`. */
export type ExportFlags = ReturnType<ReturnType<typeof exportCommand>['opts']>;

/** Registers `api7-audit export`; its run module (pg, undici, the sinks) loads only when it runs. */
export function declareExport(program: Program, io: CliIo): void {
  exportCommand(program).action(async (flags, command) => {
    const [{ parseExportFlags }, { runExport }] = await Promise.all([import('./options.js'), import('./run.js')]);
    const { options, warnings } = await parseExportFlags(flags, io.env, io.cwd);
    for (const warning of warnings) io.stderr.write(`${warning}\n`);
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    // export lets its batches in flight finish and saves its checkpoint.
    deferInterrupts();
    await runExport(options, config, io);
  });
}
