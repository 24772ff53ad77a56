import { FakeServer, IdLog, seededRandom, type FakeReply, type FakeRequest, type FaultOptions, type Protocol } from './fake-server.js';

export interface FakeElasticOptions extends FaultOptions {
  apiKey?: string;
  /** Share of bulk items answered 429 es_rejected_execution_exception (seeded). */
  itemRejectRate?: number;
  /** Entry ids whose document fails mapping (400 mapper_parsing_exception). */
  badIds?: ReadonlySet<string>;
}

const esError = (status: number, type: string, reason: string): FakeReply => ({
  status,
  body: JSON.stringify({ error: { root_cause: [{ type, reason }], type, reason }, status }),
});

/** An Elasticsearch `_bulk` endpoint that stores documents by `_index`/`_id`. */
export class FakeElastic implements Protocol {
  /** Ids of entries stored (a 409 is not a second store). */
  readonly ids = new IdLog();
  /** Every document received, in arrival order, 409s included: counts what was sent. */
  readonly received = new IdLog();
  readonly docs = new Map<string, Record<string, unknown>>();
  /** Raw text of the first document line received, to check key order. */
  firstDocLine: string | undefined;
  private readonly random: () => number;

  constructor(private readonly options: FakeElasticOptions = {}) {
    this.random = seededRandom((options.seed ?? 1) + 7);
  }

  static async start(options: FakeElasticOptions = {}): Promise<{ server: FakeServer; es: FakeElastic }> {
    const es = new FakeElastic(options);
    return { server: await new FakeServer(es, options).start(), es };
  }

  failure(status: number): FakeReply {
    return status === 429
      ? esError(429, 'es_rejected_execution_exception', 'rejected execution of coordinating operation')
      : esError(status, 'unavailable_shards_exception', 'primary shard is not active');
  }

  discardReply(): FakeReply {
    return { status: 200, body: '{"took":0,"errors":false,"items":[]}' };
  }

  handle(request: FakeRequest): FakeReply {
    if (request.headers.authorization !== `ApiKey ${this.options.apiKey ?? 'es-key'}`) {
      return esError(401, 'security_exception', 'unable to authenticate with provided credentials and anonymous access is not allowed for this request');
    }
    const path = request.path.split('?')[0] ?? '';
    const match = /^(?:\/([^/_][^/]*))?\/_bulk$/.exec(path);
    if (request.method !== 'POST' || match === null) return esError(404, 'not_found', `no handler for ${path}`);
    if (!String(request.headers['content-type']).startsWith('application/x-ndjson')) {
      return esError(406, 'media_type_header_exception', 'Content-Type header is not supported');
    }
    const lines = request.body.toString('utf8').split('\n');
    if (lines.at(-1) !== '') return esError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    lines.pop();
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i] ?? '') as { create?: { _index?: string; _id?: string } };
      const docLine = lines[i + 1];
      if (action.create === undefined || docLine === undefined) {
        return esError(400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}]`);
      }
      const index = action.create._index ?? match[1] ?? '';
      const id = action.create._id ?? '';
      const item = this.store(index, id, docLine);
      errors ||= item.status >= 300;
      items.push({ create: { _index: index, _id: id, ...item } });
    }
    return { status: 200, body: JSON.stringify({ took: 3, errors, items }) };
  }

  private store(index: string, id: string, docLine: string): { status: number; error?: unknown } {
    this.firstDocLine ??= docLine;
    const doc = JSON.parse(docLine) as Record<string, unknown>;
    const entryId = String(doc.id);
    if (this.random() < (this.options.itemRejectRate ?? 0)) {
      return { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of primary operation' } };
    }
    if (this.options.badIds?.has(entryId)) {
      return { status: 400, error: { type: 'mapper_parsing_exception', reason: "failed to parse field [after.plugins] of type [keyword] in document with id 'x'" } };
    }
    this.received.add(entryId);
    const key = `${index}/${id}`;
    if (this.docs.has(key)) {
      return { status: 409, error: { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [1])` } };
    }
    this.docs.set(key, doc);
    this.ids.add(entryId);
    return { status: 201 };
  }
}
