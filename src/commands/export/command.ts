import { resolve } from 'node:path';
import type { CliIo } from '../../io.js';
import type { Program } from '../program.js';
import { UsageError } from '../../errors.js';
import { Option } from '@commander-js/extra-typings';
import { outputFormat } from '../flags/output.js';
import { unknownFilterWarnings } from '../../config/known-values.js';
import { parsePositiveInt } from '../../config/parse-flags.js';
import { parseSpanMs } from '../../config/time-bound.js';
import type { SinkOptions } from '../../sinks/index.js';
import { parseFilterFlags, withFilterFlags } from '../flags/filters.js';
import { deferInterrupts } from '../../interrupt.js';
import { loadWhileConnecting, resolveCommandConfig } from '../session.js';
import { parseDatadogSite, parseHttpUrl, proxyFromEnv, readCaFile, resolveCredential, takeUserInfo, type CredentialSpec } from './destination.js';
import type { ExportOptions } from './run.js';

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
    .addOption(new Option('-o, --output <format>', 'summary format (default: text)').choices(['text', 'json'] as const))
    .option('--json', 'shortcut for --output json: the summary as one JSON object on stdout')
    .option('-q, --quiet', 'print nothing but errors (no progress, no summary); --out - still writes the entries')
    .option('--show-secrets', 'send secret values instead of "******"')
    .addHelpText('after', EXPORT_HELP);
}

/** The flags as commander hands them to the action; values are validated by `parseExportFlags`. */
export type ExportFlags = ReturnType<ReturnType<typeof exportCommand>['opts']>;

/** A checkpoint to write or an `--out` file to open: what src/commands/export/files.ts checks before the run. */
const needsFiles = (options: ExportOptions): boolean =>
  !options.dryRun && (options.checkpoint !== undefined || (options.sink.kind === 'file' && options.sink.path !== '-'));

/** Registers `api7-audit export`; its run module (pg, undici, the sinks) loads only when it runs. */
export function declareExport(program: Program, io: CliIo): void {
  exportCommand(program).action(async (flags, command) => {
    const { options, warnings } = await parseExportFlags(flags, io.env, io.cwd);
    if (flags.quiet && options.json) throw new UsageError('--quiet conflicts with --output json: one asks for no summary, the other for one');
    const runIo = flags.quiet ? (await import('../../output/quiet.js')).quietIo(io, options.sink.kind === 'file' && options.sink.path === '-') : io;
    for (const warning of [...warnings, ...unknownFilterWarnings(options.filters)]) runIo.stderr.write(`${warning}\n`);
    const config = await resolveCommandConfig(command.optsWithGlobals(), io);
    // export lets its batches in flight finish and saves its checkpoint.
    deferInterrupts();
    io.limitHeapGrowth?.();
    // The files before the connection: a path that cannot be written is exit 2 at once. Checked while connecting, it
    // waited for the connection to end, the whole connect timeout when the server does not answer.
    const prepared = needsFiles(options) ? await (await import('./files.js')).prepareExportFiles(options, runIo) : options;
    const { module, early } = await loadWhileConnecting(config, () => import('./run.js'));
    await module.runExport(prepared, config, runIo, early);
  });
}

export interface ParsedExport {
  options: ExportOptions;
  /** Printed on stderr before the run, e.g. a token given on the command line. */
  warnings: string[];
}

const DEFAULT_SETTLE = '5s';

/** Validates export flags into typed options; reads token files; never echoes a credential. */
export async function parseExportFlags(flags: ExportFlags, env: NodeJS.ProcessEnv, cwd: string): Promise<ParsedExport> {
  const warnings: string[] = [];
  const credential = (spec: CredentialSpec) => resolveCredential(spec, env, cwd, warnings);
  const destinations = [
    flags.hecUrl && '--hec-url',
    flags.elasticUrl && '--elastic-url',
    (flags.datadogUrl || flags.datadogSite) && '--datadog-url/--datadog-site',
    flags.out && '--out',
  ].filter(Boolean);
  if (destinations.length !== 1) {
    throw new UsageError(
      destinations.length === 0
        ? 'choose a destination: --hec-url URL, --elastic-url URL, --datadog-url URL / --datadog-site SITE, or --out FILE'
        : `choose one destination, not ${destinations.join(' and ')}`,
    );
  }
  const concurrency = flags.concurrency === undefined ? 4 : parsePositiveInt('--concurrency', flags.concurrency, 64);
  const http = {
    gzip: flags.gzip === true,
    connections: concurrency,
    timeoutMs: parseSpanMs('--timeout', flags.timeout ?? '30s', 100),
    // Not read for --out: a proxy variable set for other tools is no concern of a file export.
    ...(flags.out === undefined ? { proxy: proxyFromEnv(env) } : {}),
    rejectUnauthorized: flags.insecure !== true,
    ...(await readCaFile(flags, cwd, warnings)),
  };
  let sink: SinkOptions;
  if (flags.hecUrl) {
    const token = await credential({ flag: '--hec-token', value: flags.hecToken, fileFlag: '--hec-token-file', file: flags.hecTokenFile, envName: 'API7_AUDIT_HEC_TOKEN' });
    sink = {
      kind: 'splunk', ...http, url: parseHttpUrl('--hec-url', flags.hecUrl), token, index: flags.hecIndex,
      sourcetype: flags.hecSourcetype, source: flags.hecSource, host: flags.hecHost, ack: flags.hecAck === true,
    };
  } else if (flags.elasticUrl) {
    const { url, username, password } = takeUserInfo('--elastic-url', parseHttpUrl('--elastic-url', flags.elasticUrl));
    if (username === undefined) {
      const apiKey = await credential({
        flag: '--elastic-api-key', value: flags.elasticApiKey, fileFlag: '--elastic-api-key-file', file: flags.elasticApiKeyFile,
        envName: 'API7_AUDIT_ELASTIC_API_KEY', alternative: 'user:password in --elastic-url',
      });
      sink = { kind: 'elasticsearch', ...http, url, apiKey, index: flags.elasticIndex };
    } else {
      // Basic auth from the URL, a flag: it beats API7_AUDIT_ELASTIC_API_KEY, but two flags for it are ambiguous.
      if (flags.elasticApiKey !== undefined || flags.elasticApiKeyFile !== undefined) {
        throw new UsageError('give user:password in --elastic-url or an API key (--elastic-api-key, --elastic-api-key-file), not both');
      }
      warnings.push('warning: the password in --elastic-url is visible to other users of this machine; prefer an API key in API7_AUDIT_ELASTIC_API_KEY or --elastic-api-key-file');
      sink = { kind: 'elasticsearch', ...http, url, username, password, index: flags.elasticIndex };
    }
  } else if (flags.datadogUrl || flags.datadogSite) {
    if (flags.datadogUrl && flags.datadogSite) throw new UsageError('give --datadog-url or --datadog-site, not both');
    const apiKey = await credential({ flag: '--datadog-api-key', value: flags.datadogApiKey, fileFlag: '--datadog-api-key-file', file: flags.datadogApiKeyFile, envName: 'DD_API_KEY' });
    sink = {
      kind: 'datadog', ...http, apiKey, site: flags.datadogSite === undefined ? undefined : await parseDatadogSite(flags.datadogSite),
      url: flags.datadogUrl === undefined ? undefined : parseHttpUrl('--datadog-url', flags.datadogUrl),
      service: flags.datadogService, tags: flags.datadogTags,
    };
  } else {
    const out = flags.out as string;
    sink = { kind: 'file', path: out === '-' ? '-' : resolve(cwd, out), gzip: flags.gzip || out.endsWith('.gz') };
  }
  const json = outputFormat(flags, 'text') === 'json';
  if (json && flags.out === '-') throw new UsageError('--json conflicts with --out -: both would write to stdout');
  if (flags.rejects !== undefined && sink.kind === 'file') throw new UsageError('--rejects is for HTTP destinations: --out takes entries of any size');
  return {
    warnings,
    options: {
      filters: parseFilterFlags(flags),
      sink,
      concurrency,
      batchMaxEntries: flags.batchSize === undefined ? undefined : parsePositiveInt('--batch-size', flags.batchSize, 100_000),
      maxRetryMs: parseSpanMs('--max-retry-time', flags.maxRetryTime ?? '5m', 0),
      checkpoint: flags.checkpoint === undefined ? undefined : resolve(cwd, flags.checkpoint),
      settleSeconds: parseSpanMs('--settle', flags.settle ?? DEFAULT_SETTLE, 0) / 1000,
      dryRun: flags.dryRun === true,
      json,
      showSecrets: flags.showSecrets === true,
      rejects: flags.rejects === undefined ? undefined : resolve(cwd, flags.rejects),
    },
  };
}
