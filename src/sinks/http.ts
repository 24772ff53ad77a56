import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import type { FatalOutcome, RetryOutcome } from './types.js';

const gzipAsync = promisify(gzip);

/** Connection settings shared by the HTTP sinks. */
export interface HttpOptions {
  /** Give up on one request after this long without response headers, or between body chunks. Default 30 s. */
  timeoutMs?: number;
  /** Compress request bodies (`Content-Encoding: gzip`, level 1, off the event loop). Default false. */
  gzip?: boolean;
  /** Keep-alive connections to the destination; set it to the delivery concurrency. Default 4. */
  connections?: number;
  /** Route through HTTP_PROXY / HTTPS_PROXY unless NO_PROXY matches (read from process.env). Default false. */
  proxyFromEnv?: boolean;
  /** Extra trusted CA certificates (PEM), for destinations behind a private CA. */
  ca?: string;
  /** false = accept any TLS certificate (self-signed test clusters). Default true. */
  rejectUnauthorized?: boolean;
}

/** A reply of any status: mapping statuses to outcomes is the sink's job. */
export interface HttpReply {
  status: number;
  text: string;
  /** From `Retry-After` (seconds or an HTTP date), when present and valid. */
  retryAfterMs?: number;
}

/** The request never got a reply. The message is built here, never copied from undici, so it holds no secret. */
export class TransportError extends Error {
  constructor(message: string) {
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

/** A short one-line excerpt of a reply for error messages. */
export function excerpt(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The outcome for a request that got no reply: always worth another try. */
export function transportRetry(error: unknown): RetryOutcome {
  const reason = error instanceof TransportError ? error.message : 'request failed';
  return { kind: 'retry', reason };
}

/**
 * Accumulates a request body as UTF-8 bytes. Writing each piece straight into one buffer is about twice as fast
 * on Node 20 as concatenating a large string that undici would then convert, and leaves no megabyte strings for
 * the garbage collector.
 */
export class BodyBuilder {
  private buffer: Buffer;
  private length = 0;

  /** `estimate`: expected size in UTF-16 units (string lengths); non-ASCII text grows the buffer as needed. */
  constructor(estimate: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, Math.ceil(estimate * 1.1)));
  }

  add(text: string): void {
    if (this.length + text.length * 3 > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + text.length * 3));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(text, this.length);
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/** Sum of the entries' JSON lengths: the basis of a body size estimate. */
export function jsonLength(records: readonly { json: string }[]): number {
  let total = 0;
  for (const record of records) total += record.json.length;
  return total;
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
  const what = detail === '' ? `HTTP ${reply.status}` : `HTTP ${reply.status}: ${detail}`;
  if (isRetryableStatus(reply.status)) {
    return { kind: 'retry', reason: `${sink} answered ${what}`, ...retryAfter(reply) };
  }
  if (reply.status === 401 || reply.status === 403) {
    return { kind: 'fatal', reason: `${sink} rejected the credentials (${what})` };
  }
  if (reply.status === 413) {
    return { kind: 'fatal', reason: `${sink} refused the request as too large (${what}); lower the batch size` };
  }
  return { kind: 'fatal', reason: `${sink} refused the request (${what})` };
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
  private closed = false;

  /** `headers` go on every request; `secrets` (tokens, keys, passwords) are scrubbed from reply excerpts. */
  constructor(
    base: URL,
    private readonly headers: Record<string, string>,
    secrets: readonly string[],
    private readonly options: HttpOptions = {},
  ) {
    this.origin = base.origin;
    this.secrets = secrets.filter((v) => v.length > 0);
    const timeout = options.timeoutMs ?? 30_000;
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
    this.dispatcher = options.proxyFromEnv ? new EnvHttpProxyAgent(agentOptions) : new Agent(agentOptions);
  }

  /** Removes every credential this client holds from `text`. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }

  /** POSTs `body` to `path`; resolves with any HTTP status, rejects only with a `TransportError`. */
  async post(path: string, body: string | Buffer, signal: AbortSignal, extra: Record<string, string> = {}): Promise<HttpReply> {
    const headers: Record<string, string> = { ...this.headers, ...extra };
    let payload: string | Buffer = body;
    if (this.options.gzip) {
      payload = await gzipAsync(body, { level: 1 });
      headers['content-encoding'] = 'gzip';
    }
    try {
      const res = await this.dispatcher.request({ origin: this.origin, path, method: 'POST', headers, body: payload, signal });
      const text = await res.body.text();
      const retryAfter = res.headers['retry-after'];
      const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
      return { status: res.statusCode, text, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    } catch (error) {
      throw new TransportError(`POST ${this.origin}${path}: ${this.describe(error, signal)}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispatcher.close();
  }

  private describe(error: unknown, signal: AbortSignal): string {
    if (signal.aborted) return 'aborted';
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string') return TRANSPORT_PHRASES[code] ?? `request failed (${code})`;
    const name = error instanceof Error ? error.name : 'unknown error';
    return `request failed (${name})`;
  }
}
