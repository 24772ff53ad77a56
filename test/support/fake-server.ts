import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { seededRandom } from './random.js';

export { seededRandom };

/** Fault injection shared by the fake destinations. Shares are in [0, 1]; decisions come from a seeded PRNG. */
export interface FaultOptions {
  seed?: number;
  /** Share of requests answered `failStatus` (the protocol's own "busy" body) without storing anything. */
  failRate?: number;
  failStatus?: number;
  /** Instead of `failStatus`: each injected failure answers one of these, picked by the same draw. */
  failStatuses?: readonly number[];
  /** The Nth request (from 1) and every resend of the same body are answered `failStatus` for `stallMs` from its arrival. */
  stallRequest?: number;
  stallMs?: number;
  /** Retry-After header (seconds) on injected failures. */
  retryAfterSeconds?: number;
  /** The first N requests fail that way, whatever the rate. */
  failFirst?: number;
  /** Share of requests whose connection is destroyed while the body arrives (nothing stored, no reply). */
  dropRate?: number;
  /** Instead: dropped requests are read and stored, then the connection is destroyed (a resend is a duplicate). */
  dropAfterStore?: boolean;
  /** Share of requests stored, then answered only after `slowMs` (meant to exceed the client timeout). */
  slowRate?: number;
  slowMs?: number;
  /** Only count bytes and answer success: for benchmarks. */
  discard?: boolean;
  /** Larger bodies get 413. Default 64 MB. */
  maxBodyBytes?: number;
}

export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body after gzip decoding. */
  body: Buffer;
  rawBytes: number;
}

export interface FakeReply {
  status: number;
  body: string;
  headers?: Record<string, string>;
  /** Send the headers, then one byte of the body every this many ms, never finishing (a stuck proxy). */
  trickleMs?: number;
  /** Send the headers (with the whole body's Content-Length) and this many bytes of the body, then reset the connection. */
  cutAfterBytes?: number;
}

/** What a fake destination implements: its protocol, answering one request at a time. */
export interface Protocol {
  handle(request: FakeRequest): FakeReply;
  /** The protocol's reply for an injected failure. */
  failure(status: number): FakeReply;
  /** A success reply that stores nothing (discard mode). */
  discardReply(request: FakeRequest): FakeReply;
}


/** A node:http server on 127.0.0.1 (random port) that speaks `protocol` and injects faults. */
export class FakeServer {
  url = '';
  /** Requests received, whatever happened to them. */
  requestCount = 0;
  /** Raw (possibly compressed) body bytes received. */
  bytesReceived = 0;
  readonly faults = { failed: 0, dropped: 0, slow: 0, stalled: 0 };
  private readonly server: Server;
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stalled: { hash: string; until: number } | undefined;

  constructor(
    private readonly protocol: Protocol,
    private readonly options: FaultOptions = {},
  ) {
    this.random = seededRandom(options.seed ?? 1);
    this.server = createServer((req, res) => {
      // One draw per request, in arrival order: the same seed gives the same sequence of faults.
      const draw = options.discard ? 1 : this.random();
      const failRate = options.failRate ?? 0;
      const cutMidRequest = !options.dropAfterStore && draw >= failRate && draw < failRate + (options.dropRate ?? 0);
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (!options.discard) chunks.push(chunk);
        if (cutMidRequest && !req.socket.destroyed) {
          this.requestCount += 1;
          this.faults.dropped += 1;
          req.socket.destroy(); // the body is cut off: nothing is stored
        }
      });
      req.on('end', () => this.onRequest(draw, req.method ?? 'GET', req.url ?? '/', req.headers, chunks, size, res));
      req.on('error', () => undefined);
    });
    this.server.keepAliveTimeout = 5000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(
    draw: number,
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    chunks: Buffer[],
    size: number,
    res: ServerResponse,
  ): void {
    this.requestCount += 1;
    this.bytesReceived += size;
    const o = this.options;
    if (o.discard) return this.reply(res, this.protocol.discardReply({ method, path, headers, body: Buffer.alloc(0), rawBytes: size }));
    if (size > (o.maxBodyBytes ?? 64 * 1024 * 1024)) return this.reply(res, { status: 413, body: 'Request Entity Too Large' });
    const failRate = o.failRate ?? 0;
    const dropRate = o.dropRate ?? 0;
    const slowRate = o.slowRate ?? 0;
    if (this.isStalled(chunks)) {
      this.faults.stalled += 1;
      return this.reply(res, this.protocol.failure(o.failStatus ?? 503));
    }
    if (this.requestCount <= (o.failFirst ?? 0) || draw < failRate) {
      this.faults.failed += 1;
      const statuses = o.failStatuses ?? [o.failStatus ?? 503];
      const reply = this.protocol.failure(statuses[Math.min(statuses.length - 1, Math.floor((draw / (failRate || 1)) * statuses.length))] ?? 503);
      if (o.retryAfterSeconds !== undefined) reply.headers = { ...reply.headers, 'retry-after': String(o.retryAfterSeconds) };
      return this.reply(res, reply);
    }
    const raw = Buffer.concat(chunks);
    let body: Buffer;
    try {
      body = headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    } catch {
      return this.reply(res, { status: 400, body: 'bad gzip body' });
    }
    const request = { method, path, headers, body, rawBytes: size };
    if (draw < failRate + dropRate) {
      this.faults.dropped += 1;
      if (o.dropAfterStore) this.protocol.handle(request);
      res.socket?.destroy();
      return;
    }
    const reply = this.protocol.handle(request);
    if (draw < failRate + dropRate + slowRate) {
      this.faults.slow += 1;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.reply(res, reply);
      }, o.slowMs ?? 1000);
      this.timers.add(timer);
      return;
    }
    this.reply(res, reply);
  }

  /** Whether this request is the stalled one or a resend of it, while the stall lasts. */
  private isStalled(chunks: Buffer[]): boolean {
    const o = this.options;
    if (o.stallRequest === undefined || this.requestCount < o.stallRequest) return false;
    const hash = createHash('sha1').update(Buffer.concat(chunks)).digest('hex');
    if (this.requestCount === o.stallRequest) this.stalled = { hash, until: Date.now() + (o.stallMs ?? 1000) };
    return this.stalled?.hash === hash && Date.now() < this.stalled.until;
  }

  private reply(res: ServerResponse, reply: FakeReply): void {
    if (res.destroyed || res.writableEnded) return;
    if (reply.cutAfterBytes !== undefined) {
      const body = Buffer.from(reply.body);
      res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': String(body.length), ...reply.headers });
      res.write(body.subarray(0, reply.cutAfterBytes), () => res.socket?.destroy());
      return;
    }
    if (reply.trickleMs !== undefined) {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(reply.body.charAt(sent % Math.max(1, reply.body.length)) || ' ');
        sent += 1;
      }, reply.trickleMs);
      this.timers.add(timer);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body);
  }
}

/** Every entry id a fake destination stored, in arrival order, with duplicate accounting. */
export class IdLog {
  readonly ids: string[] = [];
  private readonly seen = new Set<string>();
  duplicates = 0;

  add(id: string): boolean {
    this.ids.push(id);
    if (this.seen.has(id)) {
      this.duplicates += 1;
      return false;
    }
    this.seen.add(id);
    return true;
  }

  get unique(): number {
    return this.seen.size;
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }
}
