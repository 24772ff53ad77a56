import type { AuditEntry } from '../entry.js';
import type { CliIo } from '../io.js';
import { createColors, shouldUseColor } from './colors.js';
import { printTable } from './table.js';
import { createEntryWriter, type OutputFormat } from './writers.js';

export type { OutputFormat };

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'ndjson', 'csv'];

/**
 * Prints entries to stdout, streaming with constant memory for `--all`: machine formats entry by entry, the table
 * sized by its first rows. "Nothing matched" goes to stderr, keeping stdout data. `wide`: the table cuts nothing.
 */
export async function printEntries(entries: AsyncIterable<AuditEntry>, format: OutputFormat, io: CliIo, wide = false): Promise<void> {
  if (format !== 'table') {
    const writer = createEntryWriter(format, io.stdout);
    for await (const entry of entries) await writer.write(entry);
    await writer.end();
    return;
  }
  const colors = createColors(shouldUseColor(io.stdoutIsTty, io.env));
  // A pseudo-terminal nobody sized (script, docker exec -t) reports 0 columns: its width is unknown, not zero.
  const width = io.stdoutIsTty && io.columns ? io.columns : undefined;
  await printTable(entries, io.stdout, io.stderr, { colors, width, wide });
}
