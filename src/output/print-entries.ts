import type { AuditEntry } from '../entry.js';
import type { CliIo } from '../io.js';
import { createColors, shouldUseColor } from './colors.js';
import { NO_ENTRIES_MESSAGE, renderTable } from './table.js';
import { createEntryWriter, type OutputFormat } from './writers.js';

export type { OutputFormat };

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'ndjson', 'csv'];

/**
 * Prints entries to stdout. Machine formats stream entry by entry (constant memory for `--all`); the table needs
 * every row to size its columns, so it collects them first. "Nothing matched" goes to stderr, keeping stdout data.
 */
export async function printEntries(entries: AsyncIterable<AuditEntry>, format: OutputFormat, io: CliIo): Promise<void> {
  if (format !== 'table') {
    const writer = createEntryWriter(format, io.stdout);
    for await (const entry of entries) await writer.write(entry);
    await writer.end();
    return;
  }
  const rows: AuditEntry[] = [];
  for await (const entry of entries) rows.push(entry);
  if (rows.length === 0) {
    io.stderr.write(`${NO_ENTRIES_MESSAGE}\n`);
    return;
  }
  const colors = createColors(shouldUseColor(io.stdoutIsTty, io.env));
  io.stdout.write(`${renderTable(rows, { colors, width: io.stdoutIsTty ? io.columns : undefined })}\n`);
}
