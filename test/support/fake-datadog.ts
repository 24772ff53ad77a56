import { FakeServer, IdLog, type FakeReply, type FakeRequest, type FaultOptions, type Protocol } from './fake-server.js';

export interface FakeDatadogOptions extends FaultOptions {
  apiKey?: string;
  /** Answer 413 above this many uncompressed bytes (Datadog: 5 MB), to exercise splitting. */
  maxPayloadBytes?: number;
  maxEntries?: number;
  /**
   * Logs dated (`timestamp`) further back than this are answered 202 with the rest but not stored, as the intake
   * drops logs dated more than 18 hours back. Default 18 h; `Infinity` keeps them.
   */
  maxLogAgeMs?: number;
}

/** What one accepted request held. */
export interface DatadogRequestInfo {
  entries: number;
  bytes: number;
  gzip: boolean;
}

/** The Datadog logs intake: POST /api/v2/logs with a JSON array, 202 on success. */
export class FakeDatadog implements Protocol {
  readonly ids = new IdLog();
  readonly logs: Record<string, unknown>[] = [];
  /** Every request that reached the protocol (injected failures and drops before storing are not here). */
  readonly requests: DatadogRequestInfo[] = [];
  /** Ids of logs accepted but dropped for their date. */
  readonly droppedAsOld: string[] = [];

  constructor(private readonly options: FakeDatadogOptions = {}) {}

  static async start(options: FakeDatadogOptions = {}): Promise<{ server: FakeServer; dd: FakeDatadog }> {
    const dd = new FakeDatadog(options);
    return { server: await new FakeServer(dd, options).start(), dd };
  }

  failure(status: number): FakeReply {
    return { status, body: JSON.stringify({ errors: [{ status: String(status), title: status === 429 ? 'Too Many Requests' : 'Service Unavailable' }] }) };
  }

  discardReply(): FakeReply {
    return { status: 202, body: '{}' };
  }

  handle(request: FakeRequest): FakeReply {
    if (request.path !== '/api/v2/logs' || request.method !== 'POST') return { status: 404, body: '{"errors":["Not found"]}' };
    if (request.headers['dd-api-key'] !== (this.options.apiKey ?? 'dd-key')) return { status: 403, body: '{"errors":[{"status":"403","title":"Forbidden","detail":"Forbidden"}]}' };
    const bytes = request.body.length;
    if (bytes > (this.options.maxPayloadBytes ?? 5 * 1024 * 1024)) {
      return { status: 413, body: '{"errors":[{"status":"413","title":"Request Entity Too Large","detail":"Payload too large"}]}' };
    }
    let logs: Record<string, unknown>[];
    try {
      logs = JSON.parse(request.body.toString('utf8')) as Record<string, unknown>[];
    } catch {
      return { status: 400, body: '{"errors":[{"status":"400","title":"Bad Request","detail":"invalid JSON"}]}' };
    }
    if (!Array.isArray(logs) || logs.length > (this.options.maxEntries ?? 1000)) {
      return { status: 413, body: '{"errors":[{"status":"413","title":"Request Entity Too Large","detail":"Too many logs"}]}' };
    }
    this.requests.push({ entries: logs.length, bytes, gzip: request.headers['content-encoding'] === 'gzip' });
    const oldest = Date.now() - (this.options.maxLogAgeMs ?? 18 * 3_600_000);
    for (const log of logs) {
      if (typeof log.timestamp === 'number' && log.timestamp < oldest) {
        this.droppedAsOld.push(String((log.audit as { id?: unknown }).id));
        continue;
      }
      this.logs.push(log);
      this.ids.add(String((log.audit as { id?: unknown }).id));
    }
    return { status: 202, body: '{}' };
  }
}
