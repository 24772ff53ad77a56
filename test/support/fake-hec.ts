import { FakeServer, IdLog, type FakeReply, type FakeRequest, type FaultOptions, type Protocol } from './fake-server.js';

export interface FakeHecOptions extends FaultOptions {
  token?: string;
  /** The token has indexer acknowledgment enabled: a channel is required and replies carry `ackId`. */
  ack?: boolean;
  /** An ackId turns true on the Nth query that asks for it. Default 1 (the first query). */
  ackAfterPolls?: number;
  /** Share of batches whose ack never turns true (seeded by ackId). */
  loseAckRate?: number;
}

const reply = (status: number, text: string, code: number, extra = ''): FakeReply => ({
  status,
  body: `{"text":${JSON.stringify(text)},"code":${code}${extra}}`,
});

/** Splits HEC's body format, JSON objects one after another, into the objects' texts; undefined if malformed. */
export function splitConcatenatedJson(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth += 1;
    } else if (c === '}') {
      depth -= 1;
      if (depth < 0) return undefined;
      if (depth === 0) out.push(text.slice(start, i + 1));
    } else if (depth === 0 && !/\s/.test(c ?? '')) return undefined;
  }
  return depth === 0 ? out : undefined;
}

/** A Splunk HTTP Event Collector: /services/collector/event and /services/collector/ack. */
export class FakeHec implements Protocol {
  readonly ids = new IdLog();
  /** Every event object received (parsed), for assertions on the envelope. */
  readonly events: Record<string, unknown>[] = [];
  readonly channels = new Set<string>();
  ackQueries = 0;
  private nextAckId = 0;
  private readonly pendingAcks = new Map<number, { polls: number; lost: boolean }>();

  constructor(private readonly options: FakeHecOptions = {}) {}

  static async start(options: FakeHecOptions = {}): Promise<{ server: FakeServer; hec: FakeHec }> {
    const hec = new FakeHec(options);
    return { server: await new FakeServer(hec, options).start(), hec };
  }

  failure(status: number): FakeReply {
    return status === 503 ? reply(503, 'Server is busy', 9) : reply(status, 'Internal server error', 8);
  }

  discardReply(): FakeReply {
    return reply(200, 'Success', 0);
  }

  handle(request: FakeRequest): FakeReply {
    const auth = request.headers.authorization;
    if (auth === undefined) return reply(401, 'Token is required', 2);
    if (!auth.startsWith('Splunk ')) return reply(401, 'Invalid authorization', 3);
    if (auth.slice(7) !== (this.options.token ?? 'hec-token')) return reply(403, 'Invalid token', 4);
    const channel = request.headers['x-splunk-request-channel'];
    if (typeof channel === 'string') this.channels.add(channel);
    if (request.path.endsWith('/services/collector/ack')) return this.handleAck(request, channel);
    if (!request.path.endsWith('/services/collector/event')) return { status: 404, body: '{"text":"The requested URL was not found on this server.","code":404}' };
    if (this.options.ack && channel === undefined) return reply(400, 'Data channel is missing', 10);
    const objects = splitConcatenatedJson(request.body.toString('utf8'));
    if (objects === undefined || objects.length === 0) return reply(400, objects ? 'No data' : 'Invalid data format', objects ? 5 : 6);
    const parsed: Record<string, unknown>[] = [];
    for (const [i, text] of objects.entries()) {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return reply(400, 'Invalid data format', 6, `,"invalid-event-number":${i}`);
      }
      if (event.event === undefined) return reply(400, 'Event field is required', 12, `,"invalid-event-number":${i}`);
      if (event.index !== undefined && event.index !== 'main' && event.index !== 'audit') return reply(400, 'Incorrect index', 7, `,"invalid-event-number":${i}`);
      parsed.push(event);
    }
    for (const event of parsed) {
      this.events.push(event);
      this.ids.add(String((event.event as { id?: unknown }).id));
    }
    if (!this.options.ack) return reply(200, 'Success', 0);
    const ackId = this.nextAckId++;
    const lost = ((ackId * 2654435761) % 1000) / 1000 < (this.options.loseAckRate ?? 0);
    this.pendingAcks.set(ackId, { polls: 0, lost });
    return reply(200, 'Success', 0, `,"ackId":${ackId}`);
  }

  private handleAck(request: FakeRequest, channel: unknown): FakeReply {
    if (!this.options.ack) return reply(400, 'ACK is disabled', 14);
    if (channel === undefined) return reply(400, 'Data channel is missing', 10);
    this.ackQueries += 1;
    const ids = (JSON.parse(request.body.toString('utf8')) as { acks: number[] }).acks;
    const acks: Record<string, boolean> = {};
    for (const id of ids) {
      const pending = this.pendingAcks.get(id);
      if (pending === undefined) {
        acks[id] = false;
        continue;
      }
      pending.polls += 1;
      acks[id] = !pending.lost && pending.polls >= (this.options.ackAfterPolls ?? 1);
    }
    return { status: 200, body: JSON.stringify({ acks }) };
  }
}
