import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { Agent, EnvHttpProxyAgent } from './undici.js';
import { sanitizeForTerminal } from '../output/terminal-text.js';
import { redactValues } from '../secrets/redact.js';
import type { BodyBuilder } from './body.js';
import type { FatalOutcome, OversizeHandler, RetryOutcome } from './types.js';

const gzipAsync = promisify(gzip);

/** Connection settings shared by the HTTP sinks. */
export interface HttpOptions {
  /**
   * Give up on one request after this long without response headers, between body chunks, or reading the whole
   * reply once its headers came (a reply trickled a byte at a time held a run forever). Default 30 s.
   */
  timeoutMs?: number;
  /** Compress request bodies (`Content-Encoding: gzip`, level 1, off the event loop). Default false. */
  gzip?: boolean;
  /** Keep-alive connections to the destination; set it to the delivery concurrency. Default 4. */
  connections?: number;
  /** Route through these proxies unless `noProxy` matches (from the run's environment: HTTP_PROXY, HTTPS_PROXY, NO_PROXY). */
  proxy?: { httpProxy: string; httpsProxy: string; noProxy: string };
  /** Extra trusted CA certificates (PEM), for destinations behind a private CA. */
  ca?: string;
  /** false = accept any TLS certificate (self-signed test clusters). Default true. */
  rejectUnauthorized?: boolean;
  /** Entries too large for the destination are sent reduced through this; without it they stop the run. */
  oversize?: OversizeHandler;
  /** Where a sink says, once, that it sends some entries differently (a `warning: ...` line for stderr). */
  warn?: (message: string) => void;
}

/** A reply of any status: mapping statuses to outcomes is the sink's job. */
export interface HttpReply {
  status: number;
  text: string;
  /** From `Retry-After` (seconds or an HTTP date), when present and valid. */
  retryAfterMs?: number;
  /** A redirect's target without user info, query or fragment (never followed: the credentials stay with their host). */
  location?: string;
}

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** Where a redirect points, as origin and path only: a `Location` may carry a token in its query or user info. */
function redirectTarget(location: string | undefined, origin: string): string | undefined {
  if (location === undefined) return undefined;
  try {
    const url = new URL(location, origin);
    return `${url.origin}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/** The request never got a reply. The message is built here, never copied from undici, so it holds no secret. */
export class TransportError extends Error {
  /** `retryable` false: the request could not even be built (e.g. a token with a line break in it). */
  constructor(
    message: string,
    readonly retryable = true,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

const TRANSPORT_PHRASES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  UND_ERR_SOCKET: 'connection closed by the server before the reply',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no reply before the request timeout',
  UND_ERR_BODY_TIMEOUT: 'reply body stalled past the request timeout',
  UND_ERR_ABORTED: 'aborted',
  UND_ERR_INVALID_ARG: 'invalid request (check the URL and credentials for stray characters)',
};

/** Parses `Retry-After`: delta seconds or an HTTP date. Returns milliseconds from `nowMs`, or undefined. */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date) || !/[a-z]/i.test(text)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Appends `suffix` to the path of `base` unless the path already ends with it. */
export function resolvePath(base: URL, suffix: string): string {
  const path = base.pathname.replace(/\/+$/, '');
  return path.endsWith(suffix) ? path : path + suffix;
}

/** Characters of a reply read for an excerpt: a reply can be megabytes, a message shows a few hundred. */
const EXCERPT_SCAN = 64 * 1024;

/**
 * A short one-line excerpt of a reply for error messages, at most `max` characters and an ellipsis. A proxy's page
 * or a hostile destination must not repaint or retitle the terminal: control and bidi characters become visible
 * escapes, as in the table.
 */
export function excerpt(text: string, max = 300): string {
  const line = sanitizeForTerminal(text.slice(0, EXCERPT_SCAN).replace(/\s+/g, ' ').trim());
  if (line.length <= max && text.length <= EXCERPT_SCAN) return line;
  // Not half of a surrogate pair at the cut.
  return `${line.slice(0, max).replace(/[\uD800-\uDBFF]$/, '')}…`;
}

/** The outcome for a request that got no reply: worth another try unless it could not be sent at all. */
export function transportOutcome(error: unknown): RetryOutcome | FatalOutcome {
  if (!(error instanceof TransportError)) return { kind: 'retry', reason: 'request failed' };
  return error.retryable ? { kind: 'retry', reason: error.message } : { kind: 'fatal', reason: error.message };
}

/** Whether an HTTP status is worth retrying: timeouts, throttling and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The generic outcome of a reply the sink could not read more into: 408/429/5xx retry, 401/403 are credential
 * problems, anything else is fatal. `detail` is the already redacted excerpt of the reply.
 */
export function statusOutcome(sink: string, reply: HttpReply, detail: string): RetryOutcome | FatalOutcome {
  const status = `HTTP ${reply.status}${retryAfterNote(reply)}`;
  const what = detail === '' ? status : `${status}: ${detail}`;
  if (isRetryableStatus(reply.status)) {
    return { kind: 'retry', reason: `${sink} answered ${what}`, ...retryAfter(reply) };
  }
  if (reply.status === 401 || reply.status === 403) {
    return { kind: 'fatal', reason: `${sink} rejected the credentials (${what})` };
  }
  if (reply.status >= 300 && reply.status < 400) {
    const target = reply.location === undefined ? '' : ` to ${excerpt(reply.location)}`;
    return { kind: 'fatal', reason: `${sink} answered HTTP ${reply.status}, a redirect${target}; redirects are not followed, so that the credentials stay with the host they are for: give the URL it names` };
  }
  if (reply.status === 413) {
    return { kind: 'fatal', reason: `${sink} refused the request as too large (${what}); lower the batch size` };
  }
  return { kind: 'fatal', reason: `${sink} refused the request (${what})` };
}

/**
 * ` (Retry-After 3600 s)` when the reply asked for a pause: a pause past `--max-retry-time` ends the run at once, and
 * the message must say why.
 */
export function retryAfterNote(reply: HttpReply): string {
  return reply.retryAfterMs === undefined ? '' : ` (Retry-After ${Math.ceil(reply.retryAfterMs / 1000)} s)`;
}

/** `{ retryAfterMs }` when the reply carried a Retry-After, for spreading into a retry outcome. */
export function retryAfter(reply: HttpReply): { retryAfterMs?: number } {
  return reply.retryAfterMs === undefined ? {} : { retryAfterMs: reply.retryAfterMs };
}

/**
 * A keep-alive connection pool to one destination. Holds the credentials in its default headers and scrubs them
 * from anything it reports.
 */
export class HttpClient {
  readonly origin: string;
  private readonly dispatcher: Dispatcher;
  private readonly secrets: string[];
  private readonly timeoutMs: number;
  private closed = false;

  /** `headers` go on every request; `secrets` (tokens, keys, passwords) are scrubbed from reply excerpts. */
  constructor(
    base: URL,
    private readonly headers: Record<string, string>,
    secrets: readonly string[],
    private readonly options: HttpOptions = {},
  ) {
    this.origin = base.origin;
    this.secrets = secrets.filter((v) => v.length > 0).flatMap(quotedForms);
    const timeout = options.timeoutMs ?? 30_000;
    this.timeoutMs = timeout;
    const agentOptions = {
      connections: options.connections ?? 4,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connect: {
        timeout: Math.min(timeout, 10_000),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      },
    };
    // Through a proxy the destination's TLS runs inside the tunnel, set by `requestTls`: `connect` sets only the
    // direct connections (NO_PROXY), and --ca-file and --insecure went unused through HTTPS_PROXY.
    this.dispatcher = options.proxy
      ? new EnvHttpProxyAgent({ ...agentOptions, requestTls: agentOptions.connect, ...options.proxy })
      : new Agent(agentOptions);
  }

  /**
   * Removes every credential this client holds from `text`, whatever its length (whole values only): a destination
   * may echo the one it was sent, and a short one is no less the user's.
   */
  redact(text: string): string {
    return redactValues(text, this.secrets, undefined, 1);
  }

  /** A destination's answer as a message quotes it: credentials removed first (a cut could halve one), then {@link excerpt}. */
  quote(text: string): string {
    return excerpt(this.redact(text));
  }

  /**
   * POSTs `body` to `path`; resolves with any HTTP status, rejects only with a `TransportError`. A `BodyBuilder`
   * is released once its bytes are certainly consumed (compressed, or answered 2xx); else the GC takes it.
   */
  async post(path: string, body: string | BodyBuilder, signal: AbortSignal, extra: Record<string, string> = {}): Promise<HttpReply> {
    const headers: Record<string, string> = { ...this.headers, ...extra };
    let payload = typeof body === 'string' ? body : body.bytes();
    if (this.options.gzip && payload.length >= 1024) {
      payload = await gzipAsync(payload, { level: 1 });
      headers['content-encoding'] = 'gzip';
      if (typeof body !== 'string') body.release();
    }
    // One signal for the run's and the reply's deadline. AbortSignal.any kept every request's signal as a dependant
    // of the run's: 2,000 requests took 47 ms in it.
    const replyDeadline = new AbortController();
    const interrupt = () => replyDeadline.abort(signal.reason);
    if (signal.aborted) interrupt();
    else signal.addEventListener('abort', interrupt, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const res = await this.dispatcher.request({ origin: this.origin, path, method: 'POST', headers, body: payload, signal: replyDeadline.signal });
      if (typeof body !== 'string' && res.statusCode >= 200 && res.statusCode < 300) body.release();
      timer = setTimeout(() => replyDeadline.abort(), this.timeoutMs);
      const text = await res.body.text();
      const retryAfterMs = parseRetryAfter(header(res.headers['retry-after']));
      const target = res.statusCode >= 300 && res.statusCode < 400 ? redirectTarget(header(res.headers.location), this.origin) : undefined;
      const location = target === undefined ? undefined : this.redact(target);
      return { status: res.statusCode, text, ...(retryAfterMs === undefined ? {} : { retryAfterMs }), ...(location === undefined ? {} : { location }) };
    } catch (error) {
      const what = `POST ${this.origin}${path.split('?')[0] ?? ''}`;
      if (replyDeadline.signal.aborted && !signal.aborted) {
        throw new TransportError(`${what}: reply not complete within the request timeout (${this.timeoutMs} ms)`);
      }
      throw toTransportError(what, error, signal);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', interrupt);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispatcher.close();
  }
}

/**
 * A credential in each form a reply may quote it: as sent, %-encoded (a request line or form echoed back) and as
 * JSON escapes it (`/` as `\/` too): an API key is base64, and a 401 body echoing it must not show it either.
 */
function quotedForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return [...new Set([secret, encodeURIComponent(secret), json, json.replaceAll('/', '\\/')])];
}

/** Codes that retrying cannot fix: the request cannot be built, the host does not exist, TLS does not verify. */
const PERMANENT = /^(UND_ERR_INVALID_ARG|ENOTFOUND|ERR_TLS_.*|.*CERT.*|.*SELF_SIGNED.*|UNABLE_TO_.*)$/;

/** A certificate problem, worded with what fixes it: the CA's file for an untrusted chain, nothing for a wrong host. */
function tlsPhrase(code: string): string | undefined {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS certificate is for another host name (${code}): use the host name it names`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `TLS certificate is out of its validity period (${code})`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS_/.test(code)) return `TLS certificate not trusted (${code}): pass --ca-file FILE with the CA that signed it`;
  return undefined;
}

/** Builds our own message from the error's code only: undici errors may carry request options (headers). */
function toTransportError(what: string, error: unknown, signal: AbortSignal): TransportError {
  if (signal.aborted) return new TransportError(`${what}: aborted`);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') {
    return new TransportError(`${what}: request failed (${error instanceof Error ? error.name : 'unknown error'})`);
  }
  const phrase = TRANSPORT_PHRASES[code] ?? tlsPhrase(code) ?? `request failed (${code})`;
  return new TransportError(`${what}: ${phrase}`, !PERMANENT.test(code));
}
