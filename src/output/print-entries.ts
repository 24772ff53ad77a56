import type { Writable } from 'node:stream';
import { CANONICAL_FIELDS, type AuditEntry, type CanonicalField } from '../domain.js';
import type { CliIo } from '../io.js';
import { toCanonicalEntry } from './canonical.js';
import { createColors, shouldUseColor } from './colors.js';
import { csvHeader, csvRowOf } from './csv.js';
import { pickFields } from './fields.js';
import { pagerCommand, startPager } from './pager.js';
import { printTable, type TableField } from './table.js';
import { createEntryWriter, waitForDrain, type OutputFormat } from './writers.js';

export type { OutputFormat };

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'ndjson', 'csv'];

/** How entries are printed beyond their format: each is a flag of list (and the table's of every command). */
export interface PrintOptions {
  /** `--wide`: the table cuts nothing. */
  wide?: boolean;
  /** `--fields`: table columns (TableField) or machine output keys (CanonicalField), validated by parseFields. */
  fields?: readonly string[];
  /** `--jq EXPR`: the JSON output filtered by jq (see jq.ts). */
  jq?: string;
  /** The table's TIME zone (output/time-zone.ts); machine output stays UTC. */
  timeZone?: string;
  /** `--no-pager`. */
  noPager?: boolean;
  /** `--with-cursor`: JSON is `{"entries": [...], "next_cursor": ...}`, the cursor read once entries are consumed. */
  nextCursor?: () => string | undefined;
}

/**
 * Prints entries to stdout, streaming with constant memory for `--all`: machine formats entry by entry, the table
 * sized by its first rows (through a pager on a terminal). "Nothing matched" goes to stderr, keeping stdout data.
 * `--jq` collects the whole document first, as jq reads one.
 */
export async function printEntries(entries: AsyncIterable<AuditEntry>, format: OutputFormat, io: CliIo, options: PrintOptions | boolean = {}): Promise<void> {
  const opts = typeof options === 'boolean' ? { wide: options } : options;
  if (opts.jq !== undefined) return printThroughJq(entries, opts.jq, io, opts);
  if (format !== 'table') {
    const fields = opts.fields as readonly CanonicalField[] | undefined;
    if (!fields && !opts.nextCursor) {
      const writer = createEntryWriter(format, io.stdout);
      for await (const entry of entries) await writer.write(entry);
      await writer.end();
      return;
    }
    await writeShaped(entries, format, io.stdout, fields, opts.nextCursor);
    return;
  }
  const colors = createColors(shouldUseColor(io.stdoutIsTty, io.env));
  // A pseudo-terminal nobody sized (script, docker exec -t) reports 0 columns: its width is unknown, not zero.
  const width = io.stdoutIsTty && io.columns ? io.columns : undefined;
  const table = { colors, width, wide: opts.wide, timeZone: opts.timeZone, fields: opts.fields as readonly TableField[] | undefined };
  const command = pagerCommand(io, opts.noPager);
  if (command === undefined) return printTable(entries, io.stdout, io.stderr, table);
  const pager = startPager(command, io);
  try {
    await printTable(entries, pager.out, io.stderr, table);
  } catch (error) {
    // The reader quit the pager: the rest is not wanted.
    if (!pager.quit()) throw error;
  } finally {
    await pager.close();
  }
}

/** JSON, NDJSON or CSV with only `--fields`, and JSON with its next cursor beside the entries. */
async function writeShaped(entries: AsyncIterable<AuditEntry>, format: Exclude<OutputFormat, 'table'>, out: Writable, fields: readonly CanonicalField[] | undefined, nextCursor: (() => string | undefined) | undefined): Promise<void> {
  const envelope = format === 'json' && nextCursor !== undefined;
  const encode = (entry: AuditEntry) => JSON.stringify(fields ? pickFields(toCanonicalEntry(entry), fields) : toCanonicalEntry(entry));
  let count = 0;
  if (format === 'csv') await send(out, csvHeader(fields));
  else if (envelope) await send(out, '{"entries": [');
  for await (const entry of entries) {
    const text = format === 'csv' ? csvRowOf(entry, fields ?? CANONICAL_FIELDS) : format === 'ndjson' ? `${encode(entry)}\n` : `${count === 0 ? '\n' : ',\n'}${encode(entry)}`;
    if (format === 'json' && count === 0 && !envelope) await send(out, '[');
    count += 1;
    await send(out, text);
  }
  if (format !== 'json') return;
  const close = count === 0 ? ']' : '\n]';
  await send(out, envelope ? `${close}, "next_cursor": ${JSON.stringify(nextCursor?.() ?? null)}}\n` : count === 0 ? '[]\n' : `${close}\n`);
}

async function printThroughJq(entries: AsyncIterable<AuditEntry>, expression: string, io: CliIo, opts: PrintOptions): Promise<void> {
  const fields = opts.fields as readonly CanonicalField[] | undefined;
  const items: string[] = [];
  for await (const entry of entries) items.push(JSON.stringify(fields ? pickFields(toCanonicalEntry(entry), fields) : toCanonicalEntry(entry)));
  const array = `[${items.join(',')}]`;
  const document = opts.nextCursor ? `{"entries":${array},"next_cursor":${JSON.stringify(opts.nextCursor() ?? null)}}` : array;
  const { runJq } = await import('./jq.js');
  await send(io.stdout, await runJq(document, expression));
}

async function send(out: Writable, text: string): Promise<void> {
  if (text !== '' && !out.write(text)) await waitForDrain(out);
}
