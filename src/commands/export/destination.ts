import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileErrorReason, UsageError } from '../../errors.js';
import { registerSecret } from '../../secrets/redact.js';
import { maskUrl } from '../../config/connection-url.js';
import { maskSecretsInText } from '../../secrets/value-rules.js';

/** A credential: its flag, the file flag that may hold it, and the environment variable. */
export interface CredentialSpec {
  flag: string;
  value?: string;
  fileFlag: string;
  file?: string;
  envName: string;
  /** Another way to authenticate, named when no credential is found. */
  alternative?: string;
}

/** HTTP(S)_PROXY and NO_PROXY from the environment the run was given (not process.env), for the HTTP sinks. */
export function proxyFromEnv(env: NodeJS.ProcessEnv): { httpProxy: string; httpsProxy: string; noProxy: string } {
  return {
    httpProxy: proxyUrl(env, 'http_proxy'),
    httpsProxy: proxyUrl(env, 'https_proxy'),
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
  };
}

const PROXY_PROTOCOLS = new Set(['http:', 'https:', 'socks:', 'socks5:']);

/**
 * A proxy variable (the lower-case name first, as curl reads them), checked as the HTTP sinks' proxy agent reads it:
 * a value that is no such URL was a bare `error: Invalid URL`, exit 1, from inside the agent. Bad input: exit 2,
 * naming the variable and not its value, which may hold the proxy's password.
 */
function proxyUrl(env: NodeJS.ProcessEnv, name: 'http_proxy' | 'https_proxy'): string {
  const upper = name.toUpperCase();
  const [variable, value] = env[name] !== undefined ? [name, env[name]] : [upper, env[upper] ?? ''];
  if (value === '') return '';
  let protocol: string | undefined;
  try {
    protocol = new URL(value).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol === undefined || !PROXY_PROTOCOLS.has(protocol)) {
    throw new UsageError(`${variable} is not a proxy URL such as http://proxy:3128 (http, https or socks5): fix or unset it`);
  }
  return value;
}

/** --ca-file's certificates (PEM), trusted instead of Node's store; --insecure, with its warning. */
export async function readCaFile(flags: { insecure?: true; caFile?: string; out?: string }, cwd: string, warnings: string[]): Promise<{ ca?: string }> {
  if (flags.insecure) {
    if (flags.caFile !== undefined) throw new UsageError('give --ca-file or --insecure, not both');
    warnings.push("warning: --insecure: the destination's TLS certificate is not checked, so anyone on the network path can read the entries and the token; prefer --ca-file FILE");
  }
  if (flags.caFile === undefined) return {};
  if (flags.out !== undefined) throw new UsageError('--ca-file is for HTTPS destinations, not --out');
  const ca = await readFile(resolve(cwd, flags.caFile), 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --ca-file '${flags.caFile}': ${fileErrorReason(error)}`);
  });
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file '${flags.caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return { ca };
}

/** A sink URL as a message shows it: no password, and a credential in its query (`?token=`, `?dd-api-key=`) masked. */
export function shownUrl(value: string): string {
  return maskSecretsInText(maskUrl(value), () => '***');
}

export function parseHttpUrl(flag: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`invalid ${flag} '${shownUrl(value)}': expected an http:// or https:// URL`);
  }
  // As written; takeUserInfo registers the decoded form where it is used.
  registerSecret(url.password);
  return value;
}

/** The URL without its `user:password@` (kept out of every message), and the two decoded; none given, no basic auth. */
export function takeUserInfo(flag: string, value: string): { url: string; username?: string; password?: string } {
  const url = new URL(value);
  if (url.username === '' && url.password === '') return { url: value };
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    throw new UsageError(`invalid ${flag} '${shownUrl(value)}': its user or password holds a malformed %-escape (write % as %25)`);
  }
  registerSecret(password);
  if (username === '' || password === '') {
    throw new UsageError(`invalid ${flag} '${shownUrl(value)}': basic auth needs a user name and a password (https://USER:PASSWORD@host)`);
  }
  url.username = '';
  url.password = '';
  return { url: url.toString(), username, password };
}

/** One of Datadog's sites, or exit 2 listing them: the API key goes to the host this names. */
export async function parseDatadogSite(value: string): Promise<string> {
  // Loaded here: sinks/datadog.ts brings undici, which --help must not load.
  const { DATADOG_SITES, knownDatadogSite } = await import('../../sinks/datadog.js');
  const site = knownDatadogSite(value);
  if (site !== undefined) return site;
  throw new UsageError(`invalid --datadog-site '${value}': expected one of ${DATADOG_SITES.join(', ')} (for another intake or a proxy, give --datadog-url URL)`);
}

/** Flag (with a warning: argv is visible to other users), else the file flag, else the environment variable. */
export async function resolveCredential(spec: CredentialSpec, env: NodeJS.ProcessEnv, cwd: string, warnings: string[]): Promise<string> {
  if (spec.value !== undefined && spec.file !== undefined) throw new UsageError(`give ${spec.flag} or ${spec.fileFlag}, not both`);
  let secret: string | undefined;
  if (spec.value !== undefined) {
    warnings.push(`warning: ${spec.flag} on the command line is visible to other users of this machine; prefer ${spec.envName} or ${spec.fileFlag}`);
    secret = spec.value;
  } else if (spec.file !== undefined) {
    secret = await readFile(resolve(cwd, spec.file), 'utf8').then(
      (text) => text.trim(),
      (error: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read ${spec.fileFlag} '${spec.file}': ${fileErrorReason(error)}`);
      },
    );
  } else {
    secret = env[spec.envName];
  }
  if (!secret) throw new UsageError(`no credential: set ${spec.envName}, or give ${spec.fileFlag} FILE${spec.alternative ? `, or ${spec.alternative}` : ''}`);
  registerSecret(secret);
  return secret;
}
