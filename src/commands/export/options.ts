import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { parseFilterFlags } from '../flags/filters.js';
import { parsePositiveInt } from '../../config/parse-flags.js';
import { parseSpanMs } from '../../config/time-bound.js';
import { registerSecret } from '../../secrets/redact.js';
import type { SinkOptions } from '../../sinks/index.js';
import { DATADOG_SITES, knownDatadogSite } from '../../sinks/datadog.js';
import { maskUrl } from '../../db/connection-url.js';
import type { ExportOptions } from './run.js';
import type { ExportFlags } from './command.js';

/** A credential: its flag, the file flag that may hold it, and the environment variable. */
interface CredentialSpec {
  flag: string;
  value?: string;
  fileFlag: string;
  file?: string;
  envName: string;
  /** Another way to authenticate, named when no credential is found. */
  alternative?: string;
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
      kind: 'datadog', ...http, apiKey, site: flags.datadogSite === undefined ? undefined : parseDatadogSite(flags.datadogSite),
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
    throw new UsageError(`invalid ${flag} '${maskUrl(value)}': expected an http:// or https:// URL`);
  }
  // As written; takeUserInfo registers the decoded form where it is used.
  registerSecret(url.password);
  return value;
}

/** The URL without its `user:password@` (kept out of every message), and the two decoded; none given, no basic auth. */
function takeUserInfo(flag: string, value: string): { url: string; username?: string; password?: string } {
  const url = new URL(value);
  if (url.username === '' && url.password === '') return { url: value };
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    throw new UsageError(`invalid ${flag} '${maskUrl(value)}': its user or password holds a malformed %-escape (write % as %25)`);
  }
  registerSecret(password);
  if (username === '' || password === '') {
    throw new UsageError(`invalid ${flag} '${maskUrl(value)}': basic auth needs a user name and a password (https://USER:PASSWORD@host)`);
  }
  url.username = '';
  url.password = '';
  return { url: url.toString(), username, password };
}

/** One of Datadog's sites, or exit 2 listing them: the API key goes to the host this names. */
function parseDatadogSite(value: string): string {
  const site = knownDatadogSite(value);
  if (site !== undefined) return site;
  throw new UsageError(`invalid --datadog-site '${value}': expected one of ${DATADOG_SITES.join(', ')} (for another intake or a proxy, give --datadog-url URL)`);
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
  if (!secret) throw new UsageError(`no credential: set ${spec.envName}, or give ${spec.fileFlag} FILE${spec.alternative ? `, or ${spec.alternative}` : ''}`);
  registerSecret(secret);
  return secret;
}
