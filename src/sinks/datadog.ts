import { hostname } from 'node:os';
import { toByteString } from '../byte-string.js';
import { BodyBuilder, BufferPool, quoteJson } from './body.js';
import { HttpClient, resolvePath, statusOutcome, transportOutcome, type HttpOptions } from './http.js';
import { ReducedRecord } from './oversize.js';
import type { FatalOutcome, OversizeHandler, SendOutcome, Sink } from './types.js';
import type { ExportRecord } from '../domain.js';

export interface DatadogOptions extends HttpOptions {
  apiKey: string;
  /** Datadog site: `datadoghq.com` (default), `datadoghq.eu`, `us3.datadoghq.com`, `us5.datadoghq.com`, ... */
  site?: string;
  /** Full intake URL instead of the site's, e.g. a proxy or an agent's HTTP intake. */
  url?: string;
  /** `service` attribute. Default `api7-audit`. */
  service?: string;
  /** `ddsource` attribute. Default `api7`. */
  ddsource?: string;
  /** `ddtags`, comma-separated `key:value` pairs, e.g. `env:prod,team:platform`. */
  tags?: string;
  /** `hostname` attribute; defaults to this machine's host name. */
  hostname?: string;
}

const NAME = 'Datadog';
/** Intake limits: https://docs.datadoghq.com/api/latest/logs/#send-logs */
export const DATADOG_LIMITS = { maxEntries: 1000, maxBytes: 5_000_000, maxLogBytes: 1_000_000 } as const;

/**
 * Datadog takes a log's own date only up to 18 hours back and drops older ones, answering 202 all the same
 * (docs.datadoghq.com, log date remapper). An entry older than this (an hour to spare for retries and clocks) is sent
 * without `timestamp`: Datadog dates it on receipt, and its own time stays in `audit.timestamp`.
 */
export const DATADOG_DATED_WINDOW_MS = 17 * 3_600_000;

/**
 * Datadog's sites (https://docs.datadoghq.com/getting_started/site/): `--datadog-site` takes only these, so a value
 * such as `datadoghq.com@127.0.0.1` cannot send the API key elsewhere; `--datadog-url` is the way to another intake.
 */
export const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
] as const;

/** The known site `value` names (any letter case), else undefined. */
export function knownDatadogSite(value: string): string | undefined {
  const site = value.trim().toLowerCase();
  return DATADOG_SITES.find((known) => known === site);
}

/** The intake URL of a Datadog site. */
export function datadogIntakeUrl(site: string): string {
  return `https://http-intake.logs.${site.replace(/^\.+|\/+$/g, '')}`;
}

/** A short human line for the log list: `admin update route r-42`. */
function summary(record: ExportRecord): string {
  const f = record.fields;
  return [f.operator ?? '-', f.operation ?? '-', f.resource_type ?? '-', f.resource_id ?? ''].join(' ').trimEnd();
}

/** Sends entries to the Datadog logs intake (v2), as JSON arrays within the per-request limits. */
export class DatadogSink implements Sink {
  readonly name = NAME;
  /** The batcher counts entry bytes only; envelopes come on top, and `send` splits exactly anyway. */
  readonly defaults = { maxEntries: DATADOG_LIMITS.maxEntries, maxBytes: 4_000_000 };
  private readonly http: HttpClient;
  private readonly path: string;
  private readonly prefix: string;
  private readonly buffers = new BufferPool();
  private readonly oversize: OversizeHandler | undefined;
  private readonly warn: ((message: string) => void) | undefined;
  private warnedUndated = false;

  constructor(options: DatadogOptions) {
    this.oversize = options.oversize;
    this.warn = options.warn;
    const site = options.site ?? 'datadoghq.com';
    // The flags are checked already; this guards any other caller, as the API key goes to whatever host this names.
    if (options.url === undefined && knownDatadogSite(site) === undefined) throw new Error(`unknown Datadog site '${site}'`);
    const base = new URL(options.url ?? datadogIntakeUrl(site));
    this.http = new HttpClient(
      base,
      { 'dd-api-key': options.apiKey, 'content-type': 'application/json' },
      [options.apiKey],
      options,
    );
    this.path = resolvePath(base, '/api/v2/logs');
    const tags = options.tags === undefined || options.tags === '' ? '' : `,"ddtags":${JSON.stringify(options.tags)}`;
    this.prefix = toByteString(
      `{"ddsource":${JSON.stringify(options.ddsource ?? 'api7')},"service":${JSON.stringify(options.service ?? 'api7-audit')}` +
        `${tags},"hostname":${JSON.stringify(options.hostname ?? hostname())},"message":`,
    );
  }

  /**
   * One log, as a byte string (src/byte-string.ts): the entry goes in verbatim under `audit`; dated with its own
   * time unless that is before `datedFrom` (see {@link DATADOG_DATED_WINDOW_MS}).
   */
  encode(record: ExportRecord, datedFrom = Date.now() - DATADOG_DATED_WINDOW_MS): string {
    const date = record.timeMs >= datedFrom ? `,"timestamp":${Math.round(record.timeMs)}` : '';
    return `${this.prefix}${toByteString(quoteJson(summary(record)))}${date},"audit":${record.jsonBytes}}`;
  }

  async send(records: readonly ExportRecord[], signal: AbortSignal): Promise<SendOutcome> {
    const items = records.slice();
    const datedFrom = Date.now() - DATADOG_DATED_WINDOW_MS;
    const logs = items.map((r) => this.encode(r, datedFrom));
    this.warnUndated(items, datedFrom);
    for (const [i, log] of logs.entries()) {
      if (log.length <= DATADOG_LIMITS.maxLogBytes) continue;
      if (this.oversize === undefined) {
        return { kind: 'fatal', reason: `${NAME} accepts logs up to 1 MB; entry id ${(items[i] as ExportRecord).id} is ${log.length} bytes` };
      }
      const reduced = await this.reduce(items, logs, i, `${NAME} accepts logs up to 1 MB; this one is ${log.length} bytes`);
      if (reduced) return reduced;
    }
    const sizes = logs.map((l) => l.length);
    // Ranges [start, end) still to send, in order; a 413 splits the front range in two, or reduces its one entry.
    const queue = chunkRanges(sizes);
    for (let range = queue.shift(); range !== undefined; range = queue.shift()) {
      const [start, end] = range;
      const body = new BodyBuilder(sizes.slice(start, end).reduce((a, b) => a + b + 1, 2), this.buffers);
      body.add('[');
      for (let i = start; i < end; i += 1) {
        if (i > start) body.add(',');
        body.addBytes(logs[i] as string);
      }
      body.add(']');
      let reply;
      try {
        reply = await this.http.post(this.path, body, signal);
      } catch (error) {
        const outcome = transportOutcome(error);
        return outcome.kind === 'retry' ? { ...outcome, remaining: items.slice(start) } : outcome;
      }
      if (reply.status >= 200 && reply.status < 300) continue; // 202 from Datadog; 200 or 204 from an agent or a relay
      if (reply.status === 413 && end - start > 1) {
        const mid = start + Math.ceil((end - start) / 2);
        queue.unshift([start, mid], [mid, end]);
        continue;
      }
      if (reply.status === 413) {
        const failed = await this.reduce(items, logs, start, `${NAME} refused it as too large (HTTP 413: ${this.http.quote(reply.text)})`);
        if (failed) return failed;
        sizes[start] = (logs[start] as string).length;
        queue.unshift(range);
        continue;
      }
      const outcome = statusOutcome(NAME, reply, this.http.quote(reply.text));
      return outcome.kind === 'retry' ? { ...outcome, remaining: items.slice(start) } : outcome;
    }
    return { kind: 'delivered', duplicates: 0 };
  }

  /** Says once per run that entries go undated, naming the first. */
  private warnUndated(items: readonly ExportRecord[], datedFrom: number): void {
    const first = this.warnedUndated ? undefined : items.find((record) => record.timeMs < datedFrom);
    if (first === undefined) return;
    this.warnedUndated = true;
    this.warn?.(
      `warning: entries older than 17 hours (the first: id ${first.id}, ${first.timestamp}) go to Datadog without their own date, ` +
        'as its intake drops logs dated more than 18 hours back: Datadog dates them on receipt; each keeps its time in audit.timestamp',
    );
  }

  /** Replaces entry `i` with its reduced form (and its log); the fatal outcome when that cannot help. */
  private async reduce(items: ExportRecord[], logs: string[], i: number, why: string): Promise<FatalOutcome | undefined> {
    const record = items[i] as ExportRecord;
    if (record instanceof ReducedRecord || this.oversize === undefined) {
      return { kind: 'fatal', reason: `${why}: entry id ${record.id}${record instanceof ReducedRecord ? ', even reduced' : ''}` };
    }
    const reduced = await this.oversize.reduce(record, why);
    items[i] = reduced;
    logs[i] = this.encode(reduced);
    const size = (logs[i] as string).length;
    if (size > DATADOG_LIMITS.maxLogBytes) {
      return { kind: 'fatal', reason: `${NAME} accepts logs up to 1 MB; entry id ${record.id} is ${size} bytes even reduced` };
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

/** Splits logs of the given sizes into requests of at most 1000 logs and 5 MB of JSON array text. */
export function chunkRanges(sizes: readonly number[]): [number, number][] {
  const ranges: [number, number][] = [];
  let start = 0;
  let bytes = 2; // the brackets
  for (const [i, size] of sizes.entries()) {
    const added = size + (i > start ? 1 : 0);
    if (i > start && (i - start >= DATADOG_LIMITS.maxEntries || bytes + added > DATADOG_LIMITS.maxBytes)) {
      ranges.push([start, i]);
      start = i;
      bytes = 2 + size;
    } else {
      bytes += added;
    }
  }
  if (sizes.length > start) ranges.push([start, sizes.length]);
  return ranges;
}
