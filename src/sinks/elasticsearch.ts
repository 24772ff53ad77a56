import { toByteString } from '../byte-string.js';
import { BodyBuilder, BufferPool, jsonLength, quoteJson } from './body.js';
import { HttpClient, resolvePath, statusOutcome, transportOutcome, type HttpOptions } from './http.js';
import { PartSizeLimit, sendInParts, type PartOutcome } from './oversize.js';
import type { OversizeHandler, SendOutcome, Sink } from './types.js';
import type { ExportRecord } from '../domain.js';

export interface ElasticsearchOptions extends HttpOptions {
  /** Cluster URL, e.g. `https://es.example.com:9200` (a path prefix is kept; user:password in it means basic auth). */
  url: string;
  /** API key (the base64 `id:key` form Kibana shows); sent as `Authorization: ApiKey <key>`. */
  apiKey?: string;
  username?: string;
  password?: string;
  /** Index or data stream. Default `api7-audit`. */
  index?: string;
}

const NAME = 'Elasticsearch';
const LEADING_SPACE = /^[ \t\r\n]+/;
/** Only what we read; keeps the reply of a 5,000-item bulk small. */
const FILTER = '?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason';

/**
 * The two NDJSON lines for one entry: a `create` action with a deterministic `_id` (so a resend is a 409, not a
 * second copy), then the entry with `@timestamp` spliced in as its first key. The `_id` holds the timestamp too: a
 * table whose ids started again (a restore, TRUNCATE ... RESTART IDENTITY), or a second table in the same index, gave
 * new entries the `_id` of stored ones, and their 409s counted them as delivered.
 */
export function encodeBulkItem(record: ExportRecord, actionPrefix: string, body: { addBytes(bytes: string): void }): void {
  // Byte strings (src/byte-string.ts) throughout: JSON's whitespace is ASCII, one byte each.
  const rest = record.jsonBytes.slice(1).replace(LEADING_SPACE, '');
  const comma = rest.startsWith('}') ? '' : ',';
  body.addBytes(toByteString(`${actionPrefix}${quoteJson(`api7-audit-${record.id}-${record.timestamp}`)}}}\n{"@timestamp":${timestampValue(record)}${comma}`));
  body.addBytes(rest);
  body.addBytes('\n');
}

/**
 * `@timestamp` as the entry prints it, but for a year outside 1-9999 (ISO 8601's expanded form, `-000043-...` for
 * 44 BC, or `0000-...` for 1 BC) as epoch milliseconds: Elasticsearch's default date format (`strict_date_optional_time||epoch_millis`)
 * reads four-digit years only, and a refused item stops the export at that entry.
 */
function timestampValue(record: ExportRecord): string {
  return FOUR_DIGIT_YEAR.test(record.timestamp) ? quoteJson(record.timestamp) : String(record.timeMs);
}

const FOUR_DIGIT_YEAR = /^(?!0000)\d{4}-/;

/** Occurrences of `"create"` in a bulk reply: one per item when no item failed (no error reason can hold it then). */
function countCreates(text: string): number {
  let count = 0;
  for (let at = text.indexOf('"create"'); at >= 0; at = text.indexOf('"create"', at + 8)) count += 1;
  return count;
}

interface BulkItem {
  status?: number;
  error?: { type?: string; reason?: string };
}

/** Sends entries with the `_bulk` API, retrying only the items Elasticsearch could not take yet. */
export class ElasticsearchSink implements Sink {
  readonly name = NAME;
  readonly defaults = { maxEntries: 5000, maxBytes: 5_000_000 };
  private readonly http: HttpClient;
  private readonly path: string;
  private readonly actionPrefix: string;
  private readonly buffers = new BufferPool();
  private readonly oversize: OversizeHandler | undefined;
  private readonly partLimit = new PartSizeLimit();

  constructor(options: ElasticsearchOptions) {
    this.oversize = options.oversize;
    const base = new URL(options.url);
    const username = options.username ?? decodeURIComponent(base.username);
    const password = options.password ?? decodeURIComponent(base.password);
    base.username = '';
    base.password = '';
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    const secrets: string[] = [];
    if (options.apiKey !== undefined) {
      headers.authorization = `ApiKey ${options.apiKey}`;
      secrets.push(options.apiKey);
    } else if (username !== '') {
      const basic = Buffer.from(`${username}:${password}`).toString('base64');
      headers.authorization = `Basic ${basic}`;
      secrets.push(basic, password);
    }
    this.http = new HttpClient(base, headers, secrets, options);
    this.path = resolvePath(base, '/_bulk') + FILTER;
    this.actionPrefix = `{"create":{"_index":${JSON.stringify(options.index ?? 'api7-audit')},"_id":`;
  }

  /** One bulk request for the batch; after a 413, one for each half (and so on), then a too large entry reduced. */
  send(records: readonly ExportRecord[], signal: AbortSignal): Promise<SendOutcome> {
    return sendInParts(NAME, records, (part) => this.post(part, signal), this.oversize, this.partLimit);
  }

  private async post(records: readonly ExportRecord[], signal: AbortSignal): Promise<PartOutcome> {
    const body = new BodyBuilder(jsonLength(records) + records.length * (this.actionPrefix.length + 80), this.buffers);
    for (const record of records) encodeBulkItem(record, this.actionPrefix, body);
    let reply;
    try {
      reply = await this.http.post(this.path, body, signal);
    } catch (error) {
      return transportOutcome(error);
    }
    if (reply.status === 413) return { kind: 'too-large', reason: `HTTP 413: ${this.detail(reply.text)}` };
    if (reply.status !== 200) return statusOutcome(NAME, reply, this.detail(reply.text));
    // A clean bulk says so in its first bytes: skip parsing a reply that can be megabytes long, once it holds an item
    // per entry (a reply of `{"errors":false}` alone, from a proxy or a look-alike, stored nothing we know of).
    if (/"errors"\s*:\s*false/.test(reply.text.slice(0, 100)) && countCreates(reply.text) === records.length) {
      return { kind: 'delivered', duplicates: 0 };
    }
    let items: Record<string, BulkItem>[] | undefined;
    try {
      items = (JSON.parse(reply.text) as { items?: Record<string, BulkItem>[] }).items;
    } catch {
      items = undefined;
    }
    if (!Array.isArray(items) || items.length !== records.length) {
      const counted = Array.isArray(items) ? `${items.length} items` : 'no items';
      return { kind: 'fatal', reason: `${NAME} sent a bulk reply with ${counted} for ${records.length} entries: ${this.detail(reply.text)}` };
    }
    return this.readItems(records, items);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private readItems(records: readonly ExportRecord[], items: Record<string, BulkItem>[]): SendOutcome {
    let duplicates = 0;
    const remaining: ExportRecord[] = [];
    let lastRetry = '';
    for (const [i, wrapper] of items.entries()) {
      const item = Object.values(wrapper)[0] ?? {};
      const status = item.status ?? 0;
      const record = records[i] as ExportRecord;
      if (status >= 200 && status < 300) continue;
      const why = this.http.quote(`${item.error?.type ?? 'error'}: ${item.error?.reason ?? ''}`);
      if (status === 409) duplicates += 1;
      else if (status === 429 || status >= 500) {
        remaining.push(record);
        lastRetry = `${status} ${why}`;
      } else {
        return { kind: 'fatal', reason: `${NAME} refused entry id ${record.id} (item status ${status}, ${why})` };
      }
    }
    if (remaining.length === 0) return { kind: 'delivered', duplicates };
    const reason = `${NAME} deferred ${remaining.length} of ${records.length} items (${lastRetry})`;
    return { kind: 'retry', reason, remaining, duplicates };
  }

  /** The `type: reason` of an Elasticsearch error body, else an excerpt of the text. */
  private detail(text: string): string {
    try {
      const error = (JSON.parse(text) as { error?: { type?: string; reason?: string } | string }).error;
      if (typeof error === 'string') return this.http.quote(error);
      if (error?.type !== undefined) return this.http.quote(`${error.type}: ${error.reason ?? ''}`);
    } catch {
      // not JSON: a proxy page
    }
    return this.http.quote(text);
  }
}
