import { nativeJson, stableStringify } from './stable-json.js';

/**
 * One changed value. `path` is JSONPath-like: `$.upstream.nodes[0].host`, `$.plugins["key-auth"].key`.
 *
 * A side that does not exist is left out of the object rather than set to null: `before` is missing for an added
 * field or array element (and for the whole resource on CREATE), `after` is missing for a removed one (and on
 * DELETE). So `'before' in change` tells "added" from "changed from null", and JSON output shows a missing side by
 * not printing the key, while an explicit JSON `null` prints as `null`.
 */
export interface Change {
  path: string;
  before?: unknown;
  after?: unknown;
}

/** Far deeper than any gateway config; below it a changed subtree is reported whole instead of recursing on. */
export const MAX_DEPTH = 200;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The leaf-level differences between two versions of a resource, in key-sorted order. Objects present on both
 * sides are compared key by key and arrays index by index (so an insertion at the front shows as every later index
 * changing: array elements have no identity to match on). Values are compared structurally, key order ignored. A
 * null or undefined side at the root (CREATE, DELETE) yields a single change at `$`. The values in the result are
 * the input's own sub-values, not copies; mask secrets before calling this, not after.
 */
export function diffChanges(before: unknown, after: unknown): Change[] {
  const beforeAbsent = before === null || before === undefined;
  const afterAbsent = after === null || after === undefined;
  if (beforeAbsent && afterAbsent) return [];
  if (beforeAbsent) return [{ path: '$', after }];
  if (afterAbsent) return [{ path: '$', before }];
  const changes: Change[] = [];
  walk('$', before, after, changes, 0);
  return changes;
}

/** The changes under `path`, a node at `depth` where both sides are present, as {@link diffChanges} finds them. */
export function diffChangesAt(path: string, before: unknown, after: unknown, depth: number, out: Change[]): void {
  walk(path, before, after, out, depth);
}

function walk(path: string, before: unknown, after: unknown, out: Change[], depth: number): void {
  if (depth <= TEXT_CHECK_DEPTH && typeof before === 'object' && typeof after === 'object' && sameText(before, after)) return;
  if (depth > MAX_DEPTH) {
    if (stableStringify(before, 0) !== stableStringify(after, 0)) out.push({ path, before, after });
  } else if (Array.isArray(before) && Array.isArray(after)) {
    const length = Math.max(before.length, after.length);
    for (let index = 0; index < length; index++) {
      compareChild(`${path}[${index}]`, sideOf(before, index), sideOf(after, index), out, depth);
    }
  } else if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      compareChild(childPath(path, key), sideOf(before, key), sideOf(after, key), out, depth);
    }
  } else if (before !== after) {
    // Different primitives, or different kinds (object vs array vs primitive): one change for the whole value.
    out.push({ path, before, after });
  }
}

/**
 * Down to this depth, a pair of containers whose JSON texts are equal is skipped without walking it: JSON.stringify
 * is native, while walking runs every node through JavaScript that a short run (history, show) never gets to
 * optimise. Equal texts mean equal values (the same keys, order and all); unequal ones are walked, so that key order
 * alone still changes nothing. Deeper, the texts would be made again at every level.
 */
const TEXT_CHECK_DEPTH = 3;

/**
 * Whether two values print the same JSON; false where JSON.stringify cannot print them (past V8's stack). JSON.stringify
 * prints Infinity (a state's 1e400), -Infinity and null alike: a text holding a null is printed again telling them apart.
 */
function sameText(before: unknown, after: unknown): boolean {
  const text = nativeJson(before);
  if (typeof text !== 'string' || text !== nativeJson(after)) return false;
  return !text.includes('null') || nativeJson(before, tellNonFinite) === nativeJson(after, tellNonFinite);
}

/** A replacer printing a non-finite number as `"nInfinity"` and a string `x` as `"sx"`: no two differing values alike. */
function tellNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return `s${value}`;
  return typeof value === 'number' && !Number.isFinite(value) ? `n${String(value)}` : value;
}

export type Side = { present: true; value: unknown } | { present: false };

function compareChild(path: string, before: Side, after: Side, out: Change[], depth: number): void {
  if (before.present && after.present) walk(path, before.value, after.value, out, depth + 1);
  else if (before.present) out.push({ path, before: before.value });
  else if (after.present) out.push({ path, after: after.value });
}

/** An own value that JSON would print; `undefined` counts as missing, as JSON.stringify drops it. */
export function sideOf(container: Record<string, unknown> | unknown[], key: string | number): Side {
  if (!Object.hasOwn(container, key)) return { present: false };
  const value: unknown = (container as Record<string | number, unknown>)[key];
  return value === undefined ? { present: false } : { present: true, value };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Dot notation for identifier-like keys, else a bracketed JSON string (quotes and backslashes escaped). */
export function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
