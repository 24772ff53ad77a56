import { INVALID_JSON_KEY, type AuditEntry, type EntryFilters } from '../../domain.js';
import type { CliIo } from '../../io.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { RuntimeError } from '../../errors.js';
import { withConfiguredSession } from '../../db/session.js';
import type { OpenPool } from '../../db/pool.js';
import type { SortOrder } from '../../queries/list.js';
import { entryTellsState, type ResourceKey } from '../../queries/history-precompiled.js';
import { hasFilters, stateAt, withHistoryReader, type Completeness, type HistoryMode, type HistoryReader, type StateAt, type StateRead } from './readers.js';
import { createSecretPolicy, maskEntry, maskEntryBytes, type SecretPolicy } from '../../secrets/policy.js';
import { fromByteString, toByteString } from '../../byte-string.js';
import { MAX_DEPTH } from '../../secrets/rules.js';
import { maskInvalidStates } from '../../output/invalid-states.js';
import { diffChanges, type Change } from '../../output/changes.js';
import { hiddenSecretChanges } from '../../output/secret-changes.js';
import { toCanonicalEntry } from '../../output/canonical.js';
import type { TimelineItem } from '../../output/history-text.js';
import { nativeJson, writeJson } from '../../output/stable-json.js';
import { sanitizeForTerminal } from '../../output/terminal-text.js';

export type { Completeness, HistoryMode, StateAt } from './readers.js';

export interface HistoryOptions {
  resource: ResourceKey;
  mode: HistoryMode;
  filters: EntryFilters;
  /** Oldest first by default: a timeline reads down. */
  order: SortOrder;
  output: 'table' | 'json' | 'ndjson';
  showSecrets: boolean;
}

const EDIT_OPERATION = /^(update|patch|modify|put|delete|remove)$/i;

/**
 * `first` is the resource's oldest entry, `withState` its oldest entry that holds a state or deleted it (the same
 * entry unless the oldest are LOGINs and the like; null when none is). Entries without any state mean the resource
 * existed before them.
 */
export function judgeCompleteness(first: AuditEntry | undefined, withState: AuditEntry | null = first ?? null): Completeness {
  if (!first) return { complete: true };
  if (!withState) return { complete: false, first };
  const continues = (withState.before !== null && withState.before !== undefined) || EDIT_OPERATION.test(withState.operation ?? '');
  return { complete: !continues, first: withState };
}

/** A one-line warning for stderr when the history does not reach back to the resource's creation. */
export function incompleteNotice(resource: ResourceKey, completeness: Completeness): string | undefined {
  const { first } = completeness;
  if (completeness.complete || !first) return undefined;
  // The id (after a name lookup) and the operation come from the table: written by whoever could call the Admin API.
  const what = `${first.id}, ${first.operation ?? 'no operation'} at ${first.timestamp}`;
  const name = `${resource.type}:${resource.id}`;
  const text = entryTellsState(first)
    ? `the history of ${name} is incomplete: its oldest entry (id ${what}) changes an existing resource, so earlier entries were pruned; the state before it is unknown`
    : `the history of ${name} is incomplete: none of its entries holds a state (the oldest: id ${what}), so earlier entries were pruned; its state is unknown`;
  return `warning: ${sanitizeForTerminal(text)}`;
}

/** A timeline entry with, where it was made, its masked canonical JSON text: NDJSON writes it as it is. */
export type HistoryItem = TimelineItem & { json?: string };

export interface Masker {
  entry(raw: AuditEntry): AuditEntry;
  /** The changes from one state to another, secrets masked, secret changes listed with masked values. */
  changes(rawBefore: unknown, rawAfter: unknown, before: unknown, after: unknown): Change[];
  /** One timeline entry masked, with its changes: {@link entry} and {@link changes} in one step. */
  item(raw: AuditEntry): HistoryItem;
}

/** Paths in the diff's order: array indexes as numbers (`$.m[2]` before `$.m[10]`), the rest as text. */
const pathKey = (path: string) => path.replace(/\[(\d+)\]/g, (_, index: string) => `[${index.padStart(12, '0')}]`);
const byPath = (x: Change, y: Change) => {
  const [a, b] = [pathKey(x.path), pathKey(y.path)];
  return a < b ? -1 : a > b ? 1 : 0;
};

export function createMasker(showSecrets: boolean, policy: SecretPolicy): Masker {
  const masker: Masker = {
    entry: (raw) => (showSecrets ? raw : maskEntry(maskInvalidStates(raw, policy), policy)),
    changes(rawBefore, rawAfter, before, after) {
      const visible = diffChanges(before, after);
      if (showSecrets) return visible;
      const pair = (b: unknown, a: unknown) => ({ before: b, after: a }) as AuditEntry;
      const hidden = hiddenSecretChanges(pair(rawBefore, rawAfter), pair(before, after));
      return [...visible, ...hidden].sort(byPath);
    },
    item(raw) {
      if (showSecrets) return { entry: raw, changes: diffChanges(raw.before, raw.after) };
      // The entry's JSON text is masked as export masks it (maskEntryBytes: the pre-check, then only the hits): the
      // walkers copied and walked every state of the 24 entries holding secrets on the 2M-row seed, the larger part
      // of history's own time. They keep what the text way leaves to them: invalid-JSON markers, which
      // maskInvalidStates masks whole, and values nested as deep as the walkers mask whole.
      const json = jsonTextOf(raw);
      if (json === undefined || json.includes(INVALID_JSON_KEY) || bracketsIn(json, MAX_DEPTH) >= MAX_DEPTH) {
        const entry = masker.entry(raw);
        return { entry, changes: masker.changes(raw.before, raw.after, entry.before, entry.after) };
      }
      const bytes = toByteString(json);
      const maskedBytes = maskEntryBytes(bytes, policy);
      // Nothing masked, nothing hidden: the masked diff is the raw one.
      if (maskedBytes === bytes) return { entry: raw, changes: diffChanges(raw.before, raw.after).sort(byPath), json };
      const maskedJson = fromByteString(maskedBytes);
      const entry = JSON.parse(maskedJson) as AuditEntry;
      return { entry, changes: masker.changes(raw.before, raw.after, entry.before, entry.after), json: maskedJson };
    },
  };
  return masker;
}

/** The entry's canonical JSON text; undefined when a state nests past V8's stack. */
function jsonTextOf(raw: AuditEntry): string | undefined {
  const text = nativeJson(toCanonicalEntry(raw));
  return typeof text === 'string' ? text : undefined;
}

/**
 * Opening brackets anywhere in the text, in strings too, counted up to `limit`: no value in it can nest deeper than
 * this. indexOf from bracket to bracket, not a loop over every character: history's few hundred entries run it
 * before the JIT would make such a loop fast.
 */
function bracketsIn(text: string, limit: number): number {
  let count = 0;
  for (const bracket of ['{', '[']) {
    for (let at = text.indexOf(bracket); at >= 0 && count < limit; at = text.indexOf(bracket, at + 1)) count += 1;
  }
  return count;
}

/** The timeline: every entry of the resource that matches the filters, with what it changed (before -> after). */
async function* readTimeline(reader: HistoryReader, resource: ResourceKey, masker: Masker): AsyncGenerator<HistoryItem> {
  for await (const raw of reader.timeline(resource)) yield masker.item(raw);
}

function maskedState(masker: Masker, read: StateRead): StateAt {
  const entry = read.raw && masker.entry(read.raw);
  return { ...read.state, entry, state: entry && read.state.exists ? entry.after : null };
}

function stateJson(resource: ResourceKey, state: StateAt, completeness: Completeness) {
  return {
    resource: `${resource.type}:${resource.id}`,
    at: state.at,
    known: state.known,
    exists: state.exists,
    history_complete: completeness.complete,
    state: state.state,
    entry: state.entry ? toCanonicalEntry(state.entry) : null,
  };
}

async function* prepend<T>(head: T, rest: AsyncGenerator<T>): AsyncGenerator<T> {
  yield head;
  yield* rest;
}

/** `api7-audit history TYPE:ID` in a read-only transaction: the timeline, the state at a time, or a diff of two. */
export async function runHistory(options: HistoryOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  const masker = createMasker(options.showSecrets, createSecretPolicy(config.secrets));
  const loadText = async () => {
    const text = await import('./text.js');
    return { ...text, colors: text.createColors(text.shouldUseColor(io.stdoutIsTty, io.env)) };
  };
  const label = `${options.resource.type}:${options.resource.id}`;
  const text = await withConfiguredSession(
    config,
    (session, resolved) =>
      withHistoryReader(session, resolved, options, async (reader) => {
        // The whole timeline oldest first starts with the resource's first entry: one query, not two.
        let timeline: AsyncGenerator<HistoryItem> | undefined;
        let first: AuditEntry | undefined;
        if (options.mode.kind === 'timeline' && options.order === 'asc' && !hasFilters(options.filters)) {
          const items = readTimeline(reader, options.resource, masker);
          const head = await items.next();
          if (!head.done) [first, timeline] = [head.value.entry, prepend(head.value, items)];
        } else {
          first = await reader.firstEntry(options.resource);
        }
        if (!first) {
          // `route:billing-webhook`: the name list shows, standing for the id of the route last called that.
          const id = await reader.idForName(options.resource.type, options.resource.id);
          if (id !== undefined) {
            io.stderr.write(`${sanitizeForTerminal(`${label} is the name of ${options.resource.type}:${id}`)}\n`);
            options = { ...options, resource: { ...options.resource, id } };
            first = await reader.firstEntry(options.resource);
          }
        }
        if (!first) throw new RuntimeError(`no audit entries for ${label}`);
        // A LOGIN first (no state) does not start the history: the first entry that holds a state does.
        const completeness = judgeCompleteness(first, entryTellsState(first) ? first : ((await reader.firstStateEntry(options.resource)) ?? null));
        const notice = incompleteNotice(options.resource, completeness);
        if (notice) io.stderr.write(`${notice}\n`);
        const { mode } = options;
        // ndjson asks for one line: --at and --between print their one object on one line then.
        if (mode.kind === 'at') {
          const state = maskedState(masker, await stateAt(reader)(options.resource, mode.at, completeness));
          return `${writeJson(stateJson(options.resource, state, completeness), options.output === 'ndjson' ? {} : { indent: 2 })}\n`;
        }
        if (mode.kind === 'between') {
          const from = await stateAt(reader)(options.resource, mode.from, completeness);
          const to = await stateAt(reader)(options.resource, mode.to, completeness);
          const [a, b] = [maskedState(masker, from), maskedState(masker, to)];
          // An unknown side is not an absent one: diffing it as empty would show the other side as created or deleted.
          const unknown = [a, b].find((s) => !s.known);
          const changes = unknown ? null : masker.changes(from.state.state, to.state.state, a.state, b.state);
          if (options.output === 'json' || options.output === 'ndjson') {
            const side = (s: StateAt) => ({ at: s.at, known: s.known, exists: s.exists, entry_id: s.entry?.id ?? null });
            return `${writeJson({ resource: label, history_complete: completeness.complete, from: side(a), to: side(b), changes }, options.output === 'ndjson' ? {} : { indent: 2 })}\n`;
          }
          const describe = (s: StateAt) =>
            sanitizeForTerminal(`${s.at}: ${!s.known ? 'unknown (history incomplete)' : s.entry ? `${s.exists ? 'as' : 'deleted by'} entry ${s.entry.id} (${s.entry.operation ?? '-'} by ${s.entry.operator ?? '-'} at ${s.entry.timestamp})` : 'did not exist yet'}`);
          const { colors, renderDiff, NO_CHANGES } = await loadText();
          const header = `${colors.bold(label)}\n${colors.red('--- ')}${describe(a)}\n${colors.green('+++ ')}${describe(b)}`;
          let body = unknown ? colors.yellow(`(no diff: the state at ${unknown.at} is unknown, the history being incomplete)`) : renderDiff(a.state, b.state, { colors });
          // A rotated secret is "******" on both sides of the masked text: the diff alone would say nothing changed.
          const visible = new Set(diffChanges(a.state, b.state).map((change) => change.path));
          const hidden = (changes ?? []).filter((change) => !visible.has(change.path)).map((change) => sanitizeForTerminal(change.path));
          if (hidden.length > 0) {
            const note = colors.yellow(`(${hidden.length === 1 ? 'a secret' : `${hidden.length} secrets`} changed, values masked (--show-secrets shows them): ${hidden.join(', ')})`);
            body = body === NO_CHANGES ? note : `${body}\n${note}`;
          }
          return `${header}\n\n${body}\n`;
        }
        if (options.output === 'ndjson') {
          // Lines go out 64 KB at a time, not one write each: 133 entries took 133 writes.
          let pending = '';
          try {
            for await (const item of timeline ?? readTimeline(reader, options.resource, masker)) {
              // `{...entry, changes}` as one JSON text: the entry's own text, then its changes before the last `}`.
              pending += item.json === undefined ? `${writeJson({ ...toCanonicalEntry(item.entry), changes: item.changes })}\n` : `${item.json.slice(0, -1)},"changes":${writeJson(item.changes)}}\n`;
              if (pending.length >= 65_536) {
                io.stdout.write(pending);
                pending = '';
              }
            }
          } finally {
            if (pending !== '') io.stdout.write(pending);
          }
          return '';
        }
        const items: TimelineItem[] = [];
        for await (const item of timeline ?? readTimeline(reader, options.resource, masker)) items.push(item);
        if (options.output === 'json') {
          const entries = items.map((item) => ({ ...toCanonicalEntry(item.entry), changes: item.changes }));
          return `${writeJson({ resource: label, history_complete: completeness.complete, entries }, { indent: 2 })}\n`;
        }
        if (items.length === 0) {
          io.stderr.write(`No entries of ${label} match the filters.\n`);
          return '';
        }
        const { colors, renderTimeline } = await loadText();
        return `${renderTimeline(items, colors)}\n`;
      }),
    { early, activity: 'history' },
  );
  io.stdout.write(text);
}
