/**
 * The contract between the delivery engine (src/delivery/) and one destination. A sink knows one protocol and
 * nothing about PostgreSQL: it receives records whose JSON text was already built (and masked) upstream, and it
 * builds request bodies by copying that text in, never by parsing or re-serialising an entry.
 */

import type { ExportRecord } from '../domain.js';


/** Where an export stands: the last record known to be stored by the sink, in (timestamp, id) order. */

/** The sink stored every record it was given (possibly some of them for the second time). */
export interface DeliveredOutcome {
  kind: 'delivered';
  /** Records the sink reported as already present (e.g. Elasticsearch 409 on `create`). */
  duplicates: number;
}

/**
 * Nothing is known to be lost, but some records are not confirmed yet: network error, timeout, 408, 429, 5xx,
 * HEC "server busy", per-item 429 from Elasticsearch, an HEC ack that did not come in time. The engine waits
 * (honouring `retryAfterMs`) and calls `send` again with `remaining` (or the whole batch when absent).
 */
export interface RetryOutcome {
  kind: 'retry';
  /** What the sink answered, for the log and for the final error when the retry budget runs out. */
  reason: string;
  /** The server asked for this delay (Retry-After). */
  retryAfterMs?: number;
  /** The records still to send when the sink confirmed part of the batch; absent = the whole batch. */
  remaining?: readonly ExportRecord[];
  /** Duplicates among the records that this attempt did confirm. */
  duplicates?: number;
}

/** Retrying cannot help (bad token, unknown index, invalid data): the run stops at once with `reason`. */
export interface FatalOutcome {
  kind: 'fatal';
  /** What the sink answered, never containing a credential. */
  reason: string;
}

export type SendOutcome = DeliveredOutcome | RetryOutcome | FatalOutcome;

/** Batch limits a sink works best with; the engine may be told smaller or larger ones. */
export interface BatchLimits {
  maxEntries: number;
  /** Approximate budget of `json` bytes per batch (request envelopes come on top). */
  maxBytes: number;
}

/**
 * What a sink does with an entry too large for its destination (Datadog's 1 MB a log, a 413 for that entry alone):
 * keeps the whole entry aside (the rejects file), counts it, and hands back the reduced form to send instead
 * (src/sinks/oversize.ts), so that one large change cannot stop every later entry from reaching the SIEM.
 */
export interface OversizeHandler {
  reduce(record: ExportRecord, why: string): Promise<ExportRecord>;
}

export interface Sink {
  /** Human name used in messages: `Splunk HEC`, `Elasticsearch`, `Datadog`, `file out.ndjson.gz`. */
  readonly name: string;
  readonly defaults: BatchLimits;
  /**
   * Ship `records` (in order) and say what the destination answered. Never throws for anything the destination or
   * the network did: those are outcomes. Throws only on programming errors; honours `signal` by returning `retry`.
   * May be called concurrently; a sink whose destination is ordered (a file) keeps the call order.
   */
  send(records: readonly ExportRecord[], signal: AbortSignal): Promise<SendOutcome>;
  /** Release connections and flush files. Safe to call twice. */
  close(): Promise<void>;
}
