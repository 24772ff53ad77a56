import type { Writable } from 'node:stream';
import type { AuditEntry } from '../domain.js';
import { toCanonicalEntry } from './canonical.js';
import { csvHeader, csvRow } from './csv.js';

export type OutputFormat = 'table' | 'json' | 'ndjson' | 'csv';

/** The formats that can stream: a table needs every row before it can size its columns. */
export type StreamFormat = Exclude<OutputFormat, 'table'>;

/**
 * Writes entries one at a time with constant memory, so `list --all` can print millions of rows. Await each
 * `write` before the next: it resolves once `out` has room again (backpressure), and rejects if `out` fails.
 * `end` writes what closes the document (`]` for JSON, the CSV header when there were no rows) but does not end
 * `out`, which belongs to the caller (and process.stdout must never be ended).
 */
export interface EntryWriter {
  write(entry: AuditEntry): Promise<void>;
  end(): Promise<void>;
}

interface Framing {
  start: string;
  /** Text between two entries. */
  between: string;
  finish: string;
  format(entry: AuditEntry): string;
}

/**
 * JSON is one valid array with one compact entry per line: jq reads it as one document, yet it stays greppable and
 * prints `[]` when empty. NDJSON is one compact entry per line. Both use canonical keys in canonical order.
 */
const FRAMINGS: Record<StreamFormat, Framing> = {
  json: { start: '[\n', between: ',\n', finish: '\n]\n', format: (entry) => JSON.stringify(toCanonicalEntry(entry)) },
  ndjson: { start: '', between: '', finish: '', format: (entry) => `${JSON.stringify(toCanonicalEntry(entry))}\n` },
  csv: { start: csvHeader(), between: '', finish: '', format: csvRow },
};

export function createEntryWriter(format: StreamFormat, out: Writable): EntryWriter {
  const framing = FRAMINGS[format];
  let count = 0;
  let ended = false;

  async function send(text: string): Promise<void> {
    if (text === '') return;
    if (out.destroyed) throw new Error('output stream is closed');
    if (out.write(text)) return;
    await waitForDrain(out);
  }

  return {
    async write(entry) {
      if (ended) throw new Error('EntryWriter.write() called after end()');
      const prefix = count === 0 ? framing.start : framing.between;
      count += 1;
      await send(prefix + framing.format(entry));
    },
    async end() {
      if (ended) return;
      ended = true;
      if (count === 0) await send(format === 'json' ? '[]\n' : framing.start);
      else await send(framing.finish);
    },
  };
}

/**
 * Writes entries given as compact JSON text in byte strings (src/byte-string.ts), batch by batch, with the same
 * framing as {@link createEntryWriter}'s `json` and `ndjson`: one write per batch, awaiting room in `out` after each.
 */
export async function writeEntryJsonText(batches: AsyncIterable<readonly string[]>, format: 'json' | 'ndjson', out: Writable): Promise<void> {
  const json = format === 'json';
  let count = 0;
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    const text = json ? `${count === 0 ? '[\n' : ',\n'}${batch.join(',\n')}` : `${batch.join('\n')}\n`;
    count += batch.length;
    await writeBytes(out, Buffer.from(text, 'latin1'));
  }
  if (json) await writeBytes(out, Buffer.from(count === 0 ? '[]\n' : '\n]\n'));
}

async function writeBytes(out: Writable, bytes: Buffer): Promise<void> {
  if (out.destroyed) throw new Error('output stream is closed');
  if (!out.write(bytes)) await waitForDrain(out);
}

/** Resolves on 'drain'; rejects on 'error' or 'close' first, so a broken pipe cannot leave an export hanging. */
export function waitForDrain(out: Writable): Promise<void> {
  // Closed already (a pager that exited before reading): its 'close' was emitted, and no 'drain' will come.
  if (out.destroyed || out.closed) return Promise.reject(new Error('output stream closed before it drained'));
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      out.off('drain', onDrain).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => settle();
    const onError = (error: Error): void => settle(error);
    const onClose = (): void => settle(new Error('output stream closed before it drained'));
    out.on('drain', onDrain).on('error', onError).on('close', onClose);
  });
}
