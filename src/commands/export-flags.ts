import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseFilterFlags, type FilterFlags } from '../config/filter-flags.js';
import { parsePositiveInt } from '../config/parse-flags.js';
import { parseSpanMs } from '../config/time-bound.js';
import { registerSecret } from '../redact.js';
import type { SinkOptions } from '../sinks/index.js';
import type { ExportOptions } from './export.js';

export interface ExportFlags extends FilterFlags {
  hecUrl?: string;
  hecToken?: string;
  hecTokenFile?: string;
  hecIndex?: string;
  hecSourcetype?: string;
  hecSource?: string;
  hecHost?: string;
  hecAck?: boolean;
  elasticUrl?: string;
  elasticApiKey?: string;
  elasticApiKeyFile?: string;
  elasticIndex?: string;
  datadogUrl?: string;
  datadogSite?: string;
  datadogApiKey?: string;
  datadogApiKeyFile?: string;
  datadogService?: string;
  datadogTags?: string;
  out?: string;
  gzip?: boolean;
  concurrency?: string;
  batchSize?: string;
  timeout?: string;
  maxRetryTime?: string;
  checkpoint?: string;
  settle?: string;
  caFile?: string;
  insecure?: boolean;
  dryRun?: boolean;
  json?: boolean;
  showSecrets?: boolean;
  rejects?: string;
}

/** A credential: its flag, the file flag that may hold it, and the environment variable. */
interface CredentialSpec {
  flag: string;
  value?: string;
  fileFlag: string;
  file?: string;
  envName: string;
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
    proxyFromEnv: true,
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
    const apiKey = await credential({ flag: '--elastic-api-key', value: flags.elasticApiKey, fileFlag: '--elastic-api-key-file', file: flags.elasticApiKeyFile, envName: 'API7_AUDIT_ELASTIC_API_KEY' });
    sink = { kind: 'elasticsearch', ...http, url: parseHttpUrl('--elastic-url', flags.elasticUrl), apiKey, index: flags.elasticIndex };
  } else if (flags.datadogUrl || flags.datadogSite) {
    if (flags.datadogUrl && flags.datadogSite) throw new UsageError('give --datadog-url or --datadog-site, not both');
    const apiKey = await credential({ flag: '--datadog-api-key', value: flags.datadogApiKey, fileFlag: '--datadog-api-key-file', file: flags.datadogApiKeyFile, envName: 'DD_API_KEY' });
    sink = {
      kind: 'datadog', ...http, apiKey, site: flags.datadogSite,
      url: flags.datadogUrl === undefined ? undefined : parseHttpUrl('--datadog-url', flags.datadogUrl),
      service: flags.datadogService, tags: flags.datadogTags,
    };
  } else {
    const out = flags.out as string;
    sink = { kind: 'file', path: out === '-' ? '-' : resolve(cwd, out), gzip: flags.gzip || out.endsWith('.gz') };
  }
  if (flags.json && flags.out === '-') throw new UsageError('--json conflicts with --out -: both would write to stdout');
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
      json: flags.json === true,
      showSecrets: flags.showSecrets === true,
      rejects: flags.rejects === undefined ? undefined : resolve(cwd, flags.rejects),
    },
  };
}

/** --ca-file's certificates (PEM), trusted instead of Node's store; --insecure, with its warning. */
async function readCaFile(flags: ExportFlags, cwd: string, warnings: string[]): Promise<{ ca?: string }> {
  if (flags.insecure) {
    if (flags.caFile !== undefined) throw new UsageError('give --ca-file or --insecure, not both');
    warnings.push("warning: --insecure: the destination's TLS certificate is not checked, so anyone on the network path can read the entries and the token; prefer --ca-file FILE");
  }
  if (flags.caFile === undefined) return {};
  if (flags.out !== undefined) throw new UsageError('--ca-file is for HTTPS destinations, not --out');
  const ca = await readFile(resolve(cwd, flags.caFile), 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --ca-file '${flags.caFile}': ${error.code ?? 'unreadable'}`);
  });
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file '${flags.caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return { ca };
}

function parseHttpUrl(flag: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`invalid ${flag} '${value.replace(/\/\/[^@/]*@/, '//***@')}': expected an http:// or https:// URL`);
  }
  if (url.password) registerSecret(decodeURIComponent(url.password));
  return value;
}

/** Flag (with a warning: argv is visible to other users), else the file flag, else the environment variable. */
async function resolveCredential(spec: CredentialSpec, env: NodeJS.ProcessEnv, cwd: string, warnings: string[]): Promise<string> {
  if (spec.value !== undefined && spec.file !== undefined) throw new UsageError(`give ${spec.flag} or ${spec.fileFlag}, not both`);
  let secret: string | undefined;
  if (spec.value !== undefined) {
    warnings.push(`warning: ${spec.flag} on the command line is visible to other users of this machine; prefer ${spec.envName} or ${spec.fileFlag}`);
    secret = spec.value;
  } else if (spec.file !== undefined) {
    secret = await readFile(resolve(cwd, spec.file), 'utf8').then(
      (text) => text.trim(),
      (error: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read ${spec.fileFlag} '${spec.file}': ${error.code ?? 'unreadable'}`);
      },
    );
  } else {
    secret = env[spec.envName];
  }
  if (!secret) throw new UsageError(`no credential: set ${spec.envName}, or give ${spec.fileFlag} FILE`);
  registerSecret(secret);
  return secret;
}
