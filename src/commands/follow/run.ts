import type { AuditEntry, EntryFilters, Position, TimeBound } from '../../domain.js';
import type { CliIo } from '../../io.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { withAuditTable, type AuditTable } from '../../db/session.js';
import { withReadOnlySession } from '../../db/read-only.js';
import { describeFailure, isConnectionLost, lastLossOf, poolOf } from '../../db/connect.js';
import { abortConnecting, type OpenPool } from '../../db/pool.js';
import { describeAddress } from '../../config/connection-url.js';
import { redactSecrets } from '../../secrets/redact.js';
import { sanitizeForTerminal } from '../../terminal-safe.js';
import { resolveResourceNames } from '../../queries/filters.js';
import { fetchWindow, PAGE_SIZE, readOpenTransactions } from '../../queries/follow.js';
import { resolveInstant } from '../../queries/history.js';
import { checkCursor, encodeCursor, type CursorPosition } from '../../queries/cursor.js';
import { decideExportBound } from '../../delivery/export-bound.js';
import { DEFAULT_RETRY_POLICY, nextRetryDelay, systemClock, type Clock, type RetryState } from '../../delivery/retry.js';
import { createSecretPolicy, maskEntry } from '../../secrets/policy.js';
import { maskInvalidStates } from '../../output/invalid-states.js';
import { createColors, shouldUseColor } from '../../output/colors.js';
import { createRowFormatter, loadTableLibraries, type RowFormatter } from '../../output/table.js';
import { createEntryWriter, waitForDrain } from '../../output/writers.js';

export type FollowStart = { kind: 'now' } | { kind: 'since'; since: TimeBound } | { kind: 'cursor'; cursor: CursorPosition };

export interface FollowOptions {
  filters: EntryFilters;
  start: FollowStart;
  output: 'table' | 'ndjson' | 'csv';
  intervalMs: number;
  /** Export's --settle: entries younger than this wait for a later poll (docs/decisions/001-late-commits.md). */
  settleSeconds: number;
  showSecrets: boolean;
  wide: boolean;
  /** `--for`: stop (exit 0) after following this long; undefined: until Ctrl-C. */
  forMs?: number;
}

/** Prints entries as they come: the table's header once, with the first entries, then rows alone. */
interface Printer {
  print(entries: readonly AuditEntry[]): Promise<void>;
}

async function createPrinter(options: FollowOptions, io: CliIo): Promise<Printer> {
  const send = async (text: string) => {
    if (text !== '' && !io.stdout.write(text)) await waitForDrain(io.stdout);
  };
  if (options.output !== 'table') {
    const writer = createEntryWriter(options.output, io.stdout);
    return {
      async print(entries) {
        for (const entry of entries) await writer.write(entry);
      },
    };
  }
  const libraries = await loadTableLibraries();
  const table = { colors: createColors(shouldUseColor(io.stdoutIsTty, io.env)), width: io.stdoutIsTty && io.columns ? io.columns : undefined, wide: options.wide };
  let formatter: RowFormatter | undefined;
  return {
    async print(entries) {
      if (entries.length === 0) return;
      if (formatter === undefined) {
        // The first entries size the columns, as the first page of list does; later rows keep those widths.
        formatter = createRowFormatter(entries.slice(0, 100), table, libraries);
        await send(`${formatter.firstPage}\n${entries.slice(100).map((entry) => `${formatter?.format(entry)}\n`).join('')}`);
        return;
      }
      const rows = formatter;
      await send(entries.map((entry) => `${rows.format(entry)}\n`).join(''));
    },
  };
}

/** A stand-in for "a connection of this session was open": follow only retries after its first poll succeeded. */
const WAS_CONNECTED = new Error('connected before');

/**
 * `api7-audit follow`: polls every interval for entries committed since the last one printed, in (timestamp, id)
 * order, and prints them. Each poll reads the open transactions first and stops before the oldest one's start (or
 * now - settle), exactly as export bounds a run, so an entry whose transaction commits late is printed when it
 * commits, after nothing that follows it. A lost connection is retried with export's backoff; Ctrl-C ends at once.
 */
export async function runFollow(options: FollowOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>, clock: Clock = systemClock): Promise<void> {
  const policy = createSecretPolicy(config.secrets);
  const printer = await createPrinter(options, io);
  const stop = new AbortController();
  const signal = AbortSignal.any([io.signal ?? stop.signal, stop.signal]);
  // Ctrl-C ends a poll at once, closing its connection; --for's end (stop) waits for the poll in flight, so the
  // connection is released cleanly (on the demo's one shared PGlite session an aborted READ ONLY transaction stayed open).
  const interrupt = io.signal ?? new AbortController().signal;
  const note = (line: string) => io.stderr.write(`${line}\n`);
  await withAuditTable(
    config,
    async (table) => {
      options = { ...options, filters: await resolveResourceNames(table.db, table.mapping, options.filters, note) };
      const scope = { order: 'asc' as const, filters: options.filters };
      let position: Position | undefined;
      let from: string | undefined;
      if (options.start.kind === 'cursor') {
        checkCursor(table.mapping, withoutSince(options.start.cursor), scope);
        position = { timestamp: options.start.cursor.timestamp, id: options.start.cursor.id };
      } else {
        from = await resolveInstant(table.db, options.start.kind === 'now' ? { kind: 'relative', interval: '0 seconds' } : options.start.since);
      }
      // A connect in progress holds no transaction: --for's end cuts it too, or it would wait out the connect timeout.
      const timer = options.forMs === undefined ? undefined : startTimer(options.forMs, () => {
        stop.abort();
        abortConnecting(poolOf(table.db));
      });
      note(`Following entries ${position ? `after ${position.timestamp} (id ${position.id})` : `from ${from}`}; Ctrl-C to stop.`);
      const seen = new Set<string>();
      const notice = (message: string) => {
        // Said once: the number of hidden sessions changes from poll to poll, the warning does not.
        const key = message.replace(/transactions of \d+ other session/, 'transactions of N other session');
        if (!seen.has(key)) note(message);
        seen.add(key);
      };
      const advance = async (entries: AuditEntry[]) => {
        await printer.print(entries);
        const last = entries.at(-1);
        if (last) position = { timestamp: last.timestamp, id: last.id };
      };
      const release = closeConnectionOnAbort(table, interrupt);
      let failure: RetryState | undefined;
      /** Whether the failure being retried is a lost connection (else a cancelled poll). */
      let lost = false;
      try {
        while (!signal.aborted) {
          try {
            // One connection for as long as it lives, so that its loss (even while idle) is seen and said.
            await table.db.connection().execute((conn) =>
              withReadOnlySession(conn, async (session) => {
                while (!signal.aborted) {
                  await stoppable(pollOnce({ ...table, db: session }, options, { from, after: position }, policy, signal, advance, notice), interrupt);
                  if (failure) note(`${lost ? 'reconnected to PostgreSQL' : 'polled again'}; continuing ${position ? `after ${position.timestamp} (id ${position.id})` : `from ${from}`}`);
                  failure = undefined;
                  if (!(await pause(clock, options.intervalMs, signal))) return;
                }
              }),
            );
          } catch (error) {
            if (signal.aborted) break;
            if (!(error instanceof Error)) throw error;
            lost = isConnectionLost(error, WAS_CONNECTED);
            if (!lost && !isCancelledPoll(error)) throw error;
            failure = failure ? { ...failure, attempts: failure.attempts + 1 } : { attempts: 1, startedAt: clock.now() };
            const wait = nextRetryDelay(failure, undefined, DEFAULT_RETRY_POLICY, clock.now());
            if (wait === undefined) throw error;
            const retry = `in ${(wait / 1000).toFixed(1)}s (attempt ${failure.attempts})`;
            // pg says "Connection terminated unexpectedly" whatever the cause; the pool recorded the server's or the socket's words.
            const context = { lost: lastLossOf(table.db), timeoutMs: config.connectTimeoutMs, address: config.connection && describeAddress(config.connection) };
            const reason = sanitizeForTerminal(redactSecrets(describeFailure(error, context)));
            note(lost ? `warning: lost the connection to PostgreSQL (${reason}); reconnecting ${retry}` : `warning: a poll was cancelled (${reason}); polling again ${retry}`);
            if (!(await pause(clock, wait, signal))) break;
          }
        }
      } finally {
        release();
        timer?.cancel();
        // Said before an error too (the retry budget spent, a revoked grant), so that a rerun neither skips nor repeats.
        // Nothing printed: everything from the start instant on is still to come, and --since says exactly that.
        if (position) note(`Stopped. Continue with: --cursor ${encodeCursor(position, { ...scope, mapping: table.mapping })}`);
        else if (from) note(`Stopped. Continue with: --since ${from}`);
      }
    },
    { early, activity: 'follow' },
  );
}

/**
 * One poll on the session's READ ONLY connection: the open transactions (as export reads them), then every entry of the window
 * below the bound, page by page. `print` is called per page and moves the position, so a poll cut short by a lost
 * connection is continued, not repeated.
 */
async function pollOnce(
  table: AuditTable,
  options: FollowOptions,
  start: { from?: string; after?: Position },
  policy: ReturnType<typeof createSecretPolicy>,
  signal: AbortSignal,
  print: (entries: AuditEntry[]) => Promise<void>,
  notice: (message: string) => void,
): Promise<void> {
  const { db } = table;
  const facts = await readOpenTransactions(db, table.mapping, options.settleSeconds);
  const bound = decideExportBound(facts, start.after, true);
  for (const message of bound.messages) notice(message.replace('wait for the next run', 'wait').replace('nothing after the checkpoint is sent', 'nothing more is printed'));
  let after = start.after;
  for (;;) {
    const page = await fetchWindow(db, table.mapping, { filters: options.filters, from: start.from, after, before: bound.before, states: options.output !== 'table' });
    if (signal.aborted) return;
    await print(page.map((raw) => (options.showSecrets ? raw : maskEntry(maskInvalidStates(raw, policy), policy))));
    const last = page.at(-1);
    if (!last || page.length < PAGE_SIZE) return;
    after = { timestamp: last.timestamp, id: last.id };
  }
}

/** Calls `fn` after `ms`, which may exceed setTimeout's 24.8 days (Node would fire that after 1 ms). */
function startTimer(ms: number, fn: () => void): { cancel(): void } {
  const deadline = Date.now() + ms;
  let handle: NodeJS.Timeout;
  const arm = () => {
    const left = deadline - Date.now();
    handle = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}

/** The longest delay setTimeout takes as it is (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Ctrl-C must not wait for a query held up by a lock or a stalled server, nor for the session's reset after it, nor
 * for a reconnect to a server that never answers: on abort the connection last taken from the pool is closed (its
 * socket destroyed if a query is in flight) and any connect in progress is cut. Returns what undoes the watch.
 */
function closeConnectionOnAbort(table: AuditTable, signal: AbortSignal): () => void {
  let active: { end(): Promise<void> } | undefined;
  const pool = poolOf(table.db);
  const onAcquire = (client: { end(): Promise<void> }) => {
    active = client;
  };
  const onAbort = () => {
    abortConnecting(pool);
    void active?.end().catch(() => undefined);
  };
  pool.on('acquire', onAcquire);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    pool.off('acquire', onAcquire);
    signal.removeEventListener('abort', onAbort);
  };
}

/**
 * A poll the server cancelled while the connection stays usable: a statement_timeout or lock_timeout of the role
 * reached behind a lock (a migration's ALTER TABLE), or pg_cancel_backend. Following outlives it, with the same
 * retry budget as a lost connection.
 */
function isCancelledPoll(error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code;
  return code === '57014' || code === '55P03';
}

/**
 * A page of `list --since ... --order asc` continues in follow, which takes no --since with a cursor: every entry
 * after the cursor's position is past that --since already, so only the other filters must match.
 */
function withoutSince(cursor: CursorPosition): CursorPosition {
  if (cursor.made?.order !== 'asc' || !('--since' in cursor.made.filters)) return cursor;
  const { '--since': _since, ...filters } = cursor.made.filters;
  return { ...cursor, made: { ...cursor.made, filters } };
}

/** Resolves when `work` does, or as soon as `signal` aborts (Ctrl-C does not wait for a query in flight). */
function stoppable(work: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Waits `ms`; false when Ctrl-C came first. */
async function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    // In steps setTimeout can take: an --interval of 25d would otherwise poll every millisecond.
    for (let left = ms; left > 0; left -= MAX_TIMER_MS) await clock.sleep(Math.min(left, MAX_TIMER_MS), signal);
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}
