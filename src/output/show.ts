import type { AuditEntry } from '../domain.js';
import { toCanonicalEntry } from './canonical.js';
import { diffChanges, type Change } from './changes.js';
import { operationColor, type Colors } from './colors.js';
import { renderDiff } from './diff.js';
import { describeSecretField, type FingerprintChange } from './secret-changes.js';
import { sanitizeForTerminal } from './terminal-text.js';

export interface RenderShowOptions {
  colors: Colors;
  /** Passed to {@link renderDiff}. */
  contextLines?: number;
  /** Secret changes the masked diff cannot show (see secret-changes.ts), listed under the diff. */
  hiddenChanges?: Change[];
  /** With fingerprints: the secrets whose fingerprints changed, each told on a line under the diff. */
  fingerprintChanges?: FingerprintChange[];
}

/** Secrets listed under the diff at most, as the diff itself is cut (diff.ts). */
const MAX_HIDDEN_LISTED = 100;
const MORE = (count: number) => `and ${count} more (use --output json for every change)`;

/** `show --output json`: the canonical entry plus its leaf-level changes. */
export type ShowJson = AuditEntry & { changes: Change[] };

/**
 * One entry for a human: a header block, a blank line, then the diff of `before` against `after`, as text without
 * a final newline. Values are shown exactly (the timestamp keeps its microseconds so it can be pasted back as a
 * cursor) except that control characters are escaped; a missing value prints as `-`. Mask secrets first.
 */
export function renderShow(entry: AuditEntry, options: RenderShowOptions): string {
  const { colors } = options;
  const operation = display(entry.operation);
  const rows: [string, string][] = [
    ['ID', display(entry.id)],
    ['Time', display(entry.timestamp)],
    ['Operator', display(entry.operator)],
    ['Operation', entry.operation ? operationColor(colors, entry.operation)(operation) : operation],
    ['Resource', describeResource(entry)],
    ['Source IP', display(entry.source_ip)],
    ['Source', display(entry.source)],
  ];
  const labelWidth = Math.max(...rows.map(([label]) => label.length)) + 1;
  const header = rows.map(([label, value]) => `${colors.bold(`${label}:`.padEnd(labelWidth))} ${value}`);
  const diff = renderDiff(entry.before, entry.after, { colors, contextLines: options.contextLines });
  const label = (path: string) => sanitizeForTerminal(describeSecretField(path, entry.resource_type));
  const printed = options.fingerprintChanges ?? [];
  const told = printed.slice(0, MAX_HIDDEN_LISTED).map((change) => `  ${label(change.path)} ${tellFingerprints(change)}`);
  if (printed.length > told.length) told.push(`  ${MORE(printed.length - told.length)}`);
  const fingerprints = told.length ? `\n\n${colors.yellow('Secrets changed:')}\n${told.join('\n')}` : '';
  const hidden = options.hiddenChanges ?? [];
  const listed = hidden.slice(0, MAX_HIDDEN_LISTED).map((change) => label(change.path));
  if (hidden.length > listed.length) listed.push(MORE(hidden.length - listed.length));
  const secrets = hidden.length ? `\n\n${colors.yellow('Secrets changed (values hidden):')} ${listed.join(', ')}` : '';
  return `${header.join('\n')}\n\n${diff}${fingerprints}${secrets}`;
}

/** `changed (fingerprint a1b2... -> c3d4...)`, `added (fingerprint ...)`, `removed (...)`; `none` for a side without. */
function tellFingerprints({ before, after }: FingerprintChange): string {
  const side = (prints: string[]) => (prints.length === 0 ? 'none' : prints.join(', '));
  const noun = Math.max(before?.length ?? 0, after?.length ?? 0) > 1 ? 'fingerprints' : 'fingerprint';
  if (before === undefined) return `added (${noun} ${side(after ?? [])})`;
  if (after === undefined) return `removed (${noun} ${side(before)})`;
  return `changed (${noun} ${side(before)} -> ${side(after)})`;
}

/** Field order is canonical, then `changes` (with hidden secret changes, masked, in path order). */
export function showJson(entry: AuditEntry, hiddenChanges: Change[] = []): ShowJson {
  const changes = [...diffChanges(entry.before, entry.after), ...hiddenChanges].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ...toCanonicalEntry(entry), changes };
}

/** `type:id (name)`, leaving out whatever is unknown; `-` when nothing is. */
function describeResource(entry: AuditEntry): string {
  const ref = [entry.resource_type, entry.resource_id].filter((part) => part !== null && part !== '').join(':');
  const name = entry.resource_name === null || entry.resource_name === '' ? '' : `(${entry.resource_name})`;
  const text = [ref, name].filter((part) => part !== '').join(' ');
  return display(text === '' ? null : text);
}

function display(value: string | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : sanitizeForTerminal(value);
}
