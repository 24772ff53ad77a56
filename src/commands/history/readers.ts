import type { AuditEntry, EntryFilters, TimeBound } from '../../domain.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { withReadOnlyConnection, type Db, type PoolSession } from '../../db/connect.js';
import { resolveMapping, resolveMappingFrom, type ResolvedMapping } from '../../db/mapping.js';
import { parseTableName } from '../../db/identifiers.js';
import type { SortOrder } from '../../queries/list.js';
import { DELETE_OPERATION, fitsMapping, precompiledReader, readCatalogRows, type ResourceKey } from '../../queries/history-precompiled.js';
import { historyStatements } from '../../queries/history-statements.js';

// history's two readers, the precompiled statements' and Kysely's, and the choice between them (run.ts reads through them).

/** What history reads: the timeline, the state at a time, or the states at two. */
export type HistoryMode = { kind: 'timeline' } | { kind: 'at'; at: TimeBound } | { kind: 'between'; from: TimeBound; to: TimeBound };

/** Whether the resource's history starts at its creation: a first entry that is an UPDATE or DELETE means older ones were pruned. */
export interface Completeness {
  complete: boolean;
  first?: AuditEntry;
}

/** The resource's state at one moment: the `after` of the last entry at or before it. */
export interface StateAt {
  at: string;
  /** The entry that produced the state; undefined when there is none at or before `at`. */
  entry?: AuditEntry;
  /** False when no entry is at or before `at` and the history is incomplete: the state then is unknown, not absent. */
  known: boolean;
  exists: boolean;
  state: unknown;
}

/** What the readers take of a run's options (run.ts's HistoryOptions). */
export interface ReadOptions {
  mode: HistoryMode;
  filters: EntryFilters;
  order: SortOrder;
}

/**
 * What a run reads, in one read-only transaction: by history.ts's Kysely builders, or by their precompiled statements
 * (history-precompiled.ts), which serve the timeline without filters on the default layout and return the same rows.
 */
export interface HistoryReader {
  /** Every entry of the resource that matches the filters, in the chosen order. */
  timeline(resource: ResourceKey): AsyncGenerator<AuditEntry>;
  firstEntry(resource: ResourceKey): Promise<AuditEntry | undefined>;
  firstStateEntry(resource: ResourceKey): Promise<AuditEntry | undefined>;
  idForName(type: string, name: string): Promise<string | undefined>;
  /** The state at a time (--at, --between): Kysely's builders only. */
  stateAt?(resource: ResourceKey, at: TimeBound, completeness: Completeness): Promise<StateRead>;
}

export type StateRead = { raw?: AuditEntry; state: Omit<StateAt, 'entry'> };

/**
 * Runs `read` in a read-only transaction with the reader that fits: the precompiled statements when the run is a
 * timeline without filters (the catalog read by one of them too, so Kysely never loads), else Kysely's builders.
 */
export async function withHistoryReader<T>(session: PoolSession, config: ResolvedConfig, options: ReadOptions, read: (reader: HistoryReader) => Promise<T>): Promise<T> {
  if (options.mode.kind === 'timeline' && !hasFilters(options.filters)) {
    const statements = await historyStatements();
    const rows = await readCatalogRows(session.pool, statements, parseTableName(config.table));
    const mapping = await resolveMappingFrom(rows, config.table, config.columns, session.kysely);
    if (fitsMapping(statements, mapping)) {
      return withReadOnlyConnection(session.pool, (client) => {
        const reader = precompiledReader(client, statements, mapping);
        return read({ ...reader, timeline: (resource) => reader.streamHistory(resource, options.order) });
      });
    }
    return withKyselyReader(await session.kysely(), mapping, options, read);
  }
  const db = await session.kysely();
  return withKyselyReader(db, await resolveMapping(db, config.table, config.columns), options, read);
}

async function withKyselyReader<T>(db: Db, mapping: ResolvedMapping, options: ReadOptions, read: (reader: HistoryReader) => Promise<T>): Promise<T> {
  const { withReadOnly } = await import('../../db/read-only.js');
  return withReadOnly(db, async (trx) => read(await kyselyReader(trx, mapping, options)));
}

async function kyselyReader(db: Db, mapping: ResolvedMapping, options: ReadOptions): Promise<HistoryReader> {
  const history = await import('../../queries/history.js');
  return {
    timeline: (resource) => history.streamHistory(db, mapping, resource, options.filters, options.order),
    firstEntry: (resource) => history.firstEntry(db, mapping, resource),
    firstStateEntry: (resource) => history.firstStateEntry(db, mapping, resource),
    idForName: (type, name) => history.idForName(db, mapping, type, name),
    async stateAt(resource, at, completeness) {
      const [instant, raw] = [await history.resolveInstant(db, at), await history.entryAt(db, mapping, resource, at)];
      // A DELETE ends the resource even where its writer also filled `after` (with the state it removed).
      const present = raw !== undefined && raw.after !== null && raw.after !== undefined && !DELETE_OPERATION.test(raw.operation ?? '');
      return { raw, state: { at: instant, known: raw !== undefined || completeness.complete, exists: present, state: present ? raw.after : null } };
    },
  };
}

/** The reader's state at a time: --at and --between run with Kysely's (withHistoryReader). */
export function stateAt(reader: HistoryReader): NonNullable<HistoryReader['stateAt']> {
  if (!reader.stateAt) throw new Error('history: the state at a time is read with Kysely\'s builders');
  return reader.stateAt.bind(reader);
}

/** Whether any filter narrows the timeline (the precompiled statements have none). */
export function hasFilters(filters: EntryFilters): boolean {
  const { since, until, operators, operations, resources, ips, sources } = filters;
  return since !== undefined || until !== undefined || [operators, operations, resources, ips, sources].some((list) => list.length > 0);
}
