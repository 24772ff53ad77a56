import type { AuditEntry, EntryFilters, Position } from '../../domain.js';
import type { CliIo } from '../../io.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { withAuditTable, type AuditTable } from '../../db/session.js';
import { withReadOnly } from '../../db/read-only.js';
import type { OpenPool } from '../../db/pool.js';
import { resolveResourceNames } from '../../queries/filters.js';
import { canListAsJsonText, positionOf, streamEntries, streamListJson, type SortOrder } from '../../queries/list.js';
import { decodeToken, readHeadTokens } from '../../queries/export-record.js';
import { fromByteString } from '../../byte-string.js';
import { compactJsonBytes } from '../../output/compact-json.js';
import { writeEntryJsonText } from '../../output/writers.js';
import { checkCursor, encodeCursor } from '../../queries/cursor.js';
import { createSecretPolicy, maskEntry, maskEntryBytes } from '../../secrets/policy.js';
import { printEntries, type OutputFormat, type PrintOptions } from '../../output/print-entries.js';
import { mayHoldInvalidStates, reportInvalidStatesInEntry } from '../../output/invalid-states.js';

export interface ListOptions {
  filters: EntryFilters;
  order: SortOrder;
  /** Entries to return; null with --all. */
  limit: number | null;
  cursor?: Position;
  output: OutputFormat;
  showSecrets: boolean;
  /** `--wide`: the table cuts and drops nothing to fit the terminal. */
  wide?: boolean;
  /** `--fields`, `--jq`, `--local`, `--no-pager`; `withCursor`: JSON carries the next cursor. */
  print?: Omit<PrintOptions, 'nextCursor' | 'wide'> & { withCursor?: boolean };
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
        next = last && encodeCursor(positionOf(last), { ...options, mapping: table.mapping });
        return;
      }
      shown += 1;
      last = entry;
      const checked = checkStates ? reportInvalidStatesInEntry(entry, 'listed', warn, options.showSecrets ? undefined : policy) : entry;
      yield options.showSecrets ? checked : maskEntry(checked, policy);
    }
  }
  return { entries: entries(), nextCursor: () => next };
}

export interface ListJsonResult {
  /** The matching entries as compact JSON text in byte strings (src/byte-string.ts), masked, batch by batch. */
  batches: AsyncIterable<string[]>;
  /** After `batches` is consumed: where the next page starts, when the limit cut the result short. */
  nextCursor(): string | undefined;
}

/**
 * {@link listEntries} for `--output json|ndjson` on jsonb states ({@link canListAsJsonText}): each entry's JSON as
 * the server builds it, masked by scanning its bytes and compacted, so that the text is byte for byte what
 * JSON.stringify of the masked entry gives.
 */
export function listEntryJson(table: AuditTable, options: ListOptions, secretsConfig: ResolvedConfig['secrets']): ListJsonResult {
  const policy = createSecretPolicy(secretsConfig);
  const query = { filters: options.filters, order: options.order, after: options.cursor };
  const { limit } = options;
  const show = options.showSecrets ? (bytes: string) => compactJsonBytes(bytes) : (bytes: string) => compactJsonBytes(maskEntryBytes(bytes, policy));
  let next: string | undefined;
  async function* batches(): AsyncGenerator<string[]> {
    let shown = 0;
    let last: string | undefined;
    // One row past the limit tells whether there is a next page; the stream is read to its end (at most that row).
    for await (const values of streamListJson(table.db, table.mapping, query, limit === null ? undefined : limit + 1)) {
      const taken = limit === null ? values : values.slice(0, Math.max(0, limit - shown));
      shown += taken.length;
      last = taken.at(-1) ?? last;
      if (taken.length < values.length && last !== undefined) next = encodeCursor(positionOfText(last), { ...options, mapping: table.mapping });
      if (taken.length > 0) yield taken.map(show);
    }
  }
  return { batches: batches(), nextCursor: () => next };
}

function positionOfText(jsonBytes: string): Position {
  const head = readHeadTokens(fromByteString(jsonBytes));
  return { timestamp: decodeToken(head.timestamp) ?? '', id: decodeToken(head.id) ?? '' };
}

/** `api7-audit list`: runs the query in a read-only transaction and prints as it streams. */
export async function runList(options: ListOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  const { withCursor = false, ...print } = options.print ?? {};
  // Server-built JSON text is the fast path for whole entries; fields, jq and the cursor envelope shape them here.
  const plain = print.fields === undefined && print.jq === undefined && !withCursor;
  const machine = plain && (options.output === 'json' || options.output === 'ndjson') ? options.output : undefined;
  await withAuditTable(
    config,
    async (table) => {
      if (options.cursor) checkCursor(table.mapping, options.cursor, options);
      options = { ...options, filters: await resolveResourceNames(table.db, table.mapping, options.filters, (line) => io.stderr.write(`${line}\n`)) };
      return machine && canListAsJsonText(table.mapping)
        ? printAsJsonText(listEntryJson(table, options, config.secrets), machine, io)
        : withReadOnly(table.db, async (db) => {
            const result = listEntries({ ...table, db }, options, config.secrets, (message) => io.stderr.write(`${message}\n`));
            await printEntries(result.entries, options.output, io, { ...print, wide: options.wide, nextCursor: withCursor ? result.nextCursor : undefined });
            if (!withCursor) printNextCursor(result.nextCursor(), io);
          });
    },
    { early, activity: 'list' },
  );
}

async function printAsJsonText(result: ListJsonResult, format: 'json' | 'ndjson', io: CliIo): Promise<void> {
  await writeEntryJsonText(result.batches, format, io.stdout);
  printNextCursor(result.nextCursor(), io);
}

function printNextCursor(cursor: string | undefined, io: CliIo): void {
  if (cursor) io.stderr.write(`More entries match. Next page: --cursor ${cursor}\n`);
}
