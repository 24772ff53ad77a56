import type { AuditEntry } from '../entry.js';
import type { CliIo } from '../io.js';
import type { ResolvedConfig } from '../config/resolve-config.js';
import { withAuditTable, type AuditTable } from '../db/session.js';
import { withReadOnly } from '../db/read-only.js';
import type { OpenPool } from '../db/pool.js';
import type { Position } from '../db/entry-columns.js';
import type { EntryFilters } from '../queries/filters.js';
import { positionOf, streamEntries, type SortOrder } from '../queries/list.js';
import { encodeCursor } from '../queries/cursor.js';
import { createSecretPolicy, maskEntry } from '../output/secrets.js';
import { printEntries, type OutputFormat } from '../output/print-entries.js';
import { mayHoldInvalidStates, warnInvalidStatesInEntry } from '../output/invalid-states.js';

export interface ListOptions {
  filters: EntryFilters;
  order: SortOrder;
  /** Entries to return; null with --all. */
  limit: number | null;
  cursor?: Position;
  output: OutputFormat;
  showSecrets: boolean;
}

export interface ListResult {
  /** The matching entries, streamed: consume once, inside the session that produced them. */
  entries: AsyncIterable<AuditEntry>;
  /** After `entries` is consumed: where the next page starts, when the limit cut the result short. */
  nextCursor(): string | undefined;
}

/** Selects entries (secrets masked unless asked otherwise). Returns data; printing is `printEntries`. */
export function listEntries(table: AuditTable, options: ListOptions, secretsConfig: ResolvedConfig['secrets'], warn?: (message: string) => void): ListResult {
  const policy = createSecretPolicy(secretsConfig);
  const checkStates = warn !== undefined && mayHoldInvalidStates(table.mapping);
  // The table shows no before/after states: not reading them saves parsing and masking ~1 KB per row.
  const query = { filters: options.filters, order: options.order, after: options.cursor, states: options.output !== 'table' };
  let next: string | undefined;
  async function* entries(): AsyncGenerator<AuditEntry> {
    // One row past the limit tells whether there is a next page without a count(*) query.
    const max = options.limit === null ? Infinity : options.limit + 1;
    let shown = 0;
    let last: AuditEntry | undefined;
    for await (const entry of streamEntries(table.db, table.mapping, query, max)) {
      if (options.limit !== null && shown === options.limit) {
        next = last && encodeCursor(positionOf(last));
        return;
      }
      shown += 1;
      last = entry;
      if (checkStates) warnInvalidStatesInEntry(entry, 'listed', warn);
      yield options.showSecrets ? entry : maskEntry(entry, policy);
    }
  }
  return { entries: entries(), nextCursor: () => next };
}

/** `api7-audit list`: runs the query in a read-only transaction and prints as it streams. */
export async function runList(options: ListOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  await withAuditTable(
    config,
    (table) =>
      withReadOnly(table.db, async (db) => {
        const result = listEntries({ ...table, db }, options, config.secrets, (message) => io.stderr.write(`${message}\n`));
        await printEntries(result.entries, options.output, io);
        const cursor = result.nextCursor();
        if (cursor) io.stderr.write(`More entries match. Next page: --cursor ${cursor}\n`);
      }),
    { early, activity: 'list' },
  );
}
