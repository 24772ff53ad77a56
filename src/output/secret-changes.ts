import type { AuditEntry } from '../domain.js';
import { APISIX_RESOURCE_SECRET_PATHS } from '../secrets/apisix-fields.js';
import { PLUGINS_NODE, type PathNode } from '../secrets/plugin-paths.js';
import { childPath, diffChanges, isRecord, MAX_DEPTH, sideOf, type Change } from './changes.js';
import { normalizeSecretKey, SECRET_MASK } from '../secrets/policy.js';
import { SSL_RESOURCE_TYPES } from '../secrets/rules.js';
import { stableStringify } from './stable-json.js';

/**
 * Changes that masking hides. A rotated password or key reads "******" on both sides once masked, so the diff of
 * the masked entry shows nothing, yet an auditor must see that the secret changed. These are the changes of the
 * raw entry that the masked one does not show (at their path or above it), with their values masked.
 */
export function hiddenSecretChanges(raw: AuditEntry, masked: AuditEntry): Change[] {
  const absent = (value: unknown) => value === null || value === undefined;
  // A CREATE or DELETE shows the whole resource as one visible change at `$`.
  if (absent(masked.before) || absent(masked.after)) return [];
  const hidden: Change[] = [];
  collectHidden('$', raw.before, raw.after, masked.before, masked.after, 0, hidden);
  return hidden.map((change) => ({
    path: change.path,
    ...('before' in change ? { before: SECRET_MASK } : {}),
    ...('after' in change ? { after: SECRET_MASK } : {}),
  }));
}

/**
 * One change at the masked value's own path when its raw sides differ: never the paths inside it, whose key names
 * (`$.token["..."]`) are part of what masking hides.
 */
function hiddenAt(path: string, rawBefore: unknown, rawAfter: unknown, out: Change[]): void {
  if (stableStringify(rawBefore, 0) !== stableStringify(rawAfter, 0)) out.push({ path, before: rawBefore, after: rawAfter });
}

/**
 * Walks the raw and the masked entry together, as diffChanges walks each (masking keeps every key and array, and
 * replaces whole values only): where the masked sides differ, the masked diff shows that change and everything
 * under it; where they are equal but the raw sides are not, masking hid what changed. Linear in the entry's size
 * (comparing each raw change with every visible path took minutes at 100,000 changes).
 */
function collectHidden(path: string, rawBefore: unknown, rawAfter: unknown, before: unknown, after: unknown, depth: number, out: Change[]): void {
  if (depth > MAX_DEPTH) {
    if (stableStringify(before, 0) === stableStringify(after, 0)) hiddenAt(path, rawBefore, rawAfter, out);
    return;
  }
  const arrays = Array.isArray(before) && Array.isArray(after);
  if (!arrays && !(isRecord(before) && isRecord(after))) {
    if (before === after) hiddenAt(path, rawBefore, rawAfter, out);
    return;
  }
  const rawSides = [rawBefore, rawAfter] as const;
  if (!rawSides.every((side) => (arrays ? Array.isArray(side) : isRecord(side)))) return;
  const [rb, ra] = rawSides as unknown as [Record<string, unknown>, Record<string, unknown>];
  const keys = arrays
    ? Array.from({ length: Math.max((before as unknown[]).length, (after as unknown[]).length) }, (_, index) => index)
    : [...new Set([...Object.keys(before as object), ...Object.keys(after as object)])].sort();
  for (const key of keys) {
    const maskedBefore = sideOf(before as Record<string, unknown>, key);
    const maskedAfter = sideOf(after as Record<string, unknown>, key);
    // A side present only once is a visible added or removed value, whatever it holds.
    if (!maskedBefore.present || !maskedAfter.present) continue;
    const rawBeforeSide = sideOf(rb, key);
    const rawAfterSide = sideOf(ra, key);
    if (!rawBeforeSide.present || !rawAfterSide.present) continue;
    const child = typeof key === 'number' ? `${path}[${key}]` : childPath(path, key);
    collectHidden(child, rawBeforeSide.value, rawAfterSide.value, maskedBefore.value, maskedAfter.value, depth + 1, out);
  }
}

/** A fingerprinted secret that changed: its path, and the fingerprints (12 hex each) on each side it is present. */
export interface FingerprintChange {
  path: string;
  before?: string[];
  after?: string[];
}

/** What masking writes with a key (secrets.ts): `******(hmac-sha256:<12 hex>)`. */
const FINGERPRINT = new RegExp(`${SECRET_MASK.replaceAll('*', '\\*')}\\(hmac-sha256:([0-9a-f]{12})\\)`, 'g');

const fingerprintsIn = (text: string): string[] => Array.from(text.matchAll(FINGERPRINT), (match) => match[1] as string);

/**
 * The secrets of an entry masked with fingerprints whose fingerprints differ between before and after, leaf by leaf
 * (an added plugin's key is listed as added), in the diff's order. A value whose text changed around the same
 * fingerprints (a URL's host, not its password) is no secret change.
 */
export function findFingerprintChanges(masked: AuditEntry): FingerprintChange[] {
  const out: FingerprintChange[] = [];
  for (const change of diffChanges(masked.before, masked.after)) {
    if (typeof change.before === 'string' && typeof change.after === 'string') {
      pushIfDiffer(change.path, fingerprintsIn(change.before), fingerprintsIn(change.after), out);
      continue;
    }
    const before = new Map<string, string[]>();
    const after = new Map<string, string[]>();
    if ('before' in change) collectFingerprints(change.path, change.before, 0, before);
    if ('after' in change) collectFingerprints(change.path, change.after, 0, after);
    for (const path of new Set([...before.keys(), ...after.keys()])) pushIfDiffer(path, before.get(path), after.get(path), out);
  }
  return out;
}

function pushIfDiffer(path: string, before: string[] | undefined, after: string[] | undefined, out: FingerprintChange[]): void {
  if (!before?.length && !after?.length) return;
  if (before !== undefined && after !== undefined && before.join() === after.join()) return;
  out.push({ path, ...(before === undefined ? {} : { before }), ...(after === undefined ? {} : { after }) });
}

/** The fingerprinted strings under a value, by path. */
function collectFingerprints(path: string, value: unknown, depth: number, out: Map<string, string[]>): void {
  if (typeof value === 'string') {
    const prints = fingerprintsIn(value);
    if (prints.length > 0) out.set(path, prints);
  } else if (depth <= MAX_DEPTH && Array.isArray(value)) {
    value.forEach((item, index) => collectFingerprints(`${path}[${index}]`, item, depth + 1, out));
  } else if (depth <= MAX_DEPTH && isRecord(value)) {
    for (const key of Object.keys(value).sort()) collectFingerprints(childPath(path, key), value[key], depth + 1, out);
  }
}

const SEGMENT = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;

/** The keys and indexes of a path as {@link childPath} writes it, or undefined for any other text. */
function pathSegments(path: string): (string | number)[] | undefined {
  if (!path.startsWith('$')) return undefined;
  const segments: (string | number)[] = [];
  SEGMENT.lastIndex = 1;
  while (SEGMENT.lastIndex < path.length) {
    const match = SEGMENT.exec(path);
    if (!match) return undefined;
    const [, name, index, quoted] = match;
    segments.push(name ?? (index !== undefined ? Number(index) : (JSON.parse(quoted as string) as string)));
  }
  return segments;
}

/** `auth.header`, `instances[1].auth.header`: a field's place inside its plugin or resource, as a person reads it. */
function fieldText(segments: readonly (string | number)[]): string {
  return segments.map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join('');
}

/**
 * A secret's field in words where APISIX declares it (or holds one): `key-auth key`, `ai-proxy
 * instances[1].auth.header` (with `in $.services[0]` when the plugins are not at the root), `ssl key`, `upstream
 * tls.client_key`; else its path.
 */
export function describeSecretField(path: string, resourceType: string | null): string {
  const segments = pathSegments(path);
  return (segments && (pluginField(segments) ?? resourceField(segments, resourceType))) ?? path;
}

function pluginField(segments: readonly (string | number)[]): string | undefined {
  // The last `plugins` on the path is the one whose declared fields masking applied (plugin-paths.ts).
  const at = segments.findLastIndex((segment, index) => index < segments.length - 2 && typeof segment === 'string' && normalizeSecretKey(segment) === 'plugins');
  const plugin = segments[at + 1];
  if (at < 0 || typeof plugin !== 'string') return undefined;
  const rest = segments.slice(at + 2);
  let node: PathNode | undefined = PLUGINS_NODE.children.get(normalizeSecretKey(plugin));
  for (const segment of rest) if (typeof segment === 'string') node = node?.children.get(normalizeSecretKey(segment));
  // A declared field, or one that holds some (aws-lambda `authorization`, masked whole by its name).
  if (node === undefined || rest.length === 0) return undefined;
  const where = segments.slice(0, at).reduce<string>((path, segment) => (typeof segment === 'number' ? `${path}[${segment}]` : childPath(path, segment)), '$');
  return `${plugin} ${fieldText(rest)}${at === 0 ? '' : ` in ${where}`}`;
}

function resourceField(segments: readonly (string | number)[], resourceType: string | null): string | undefined {
  if (resourceType === null) return undefined;
  const type = normalizeSecretKey(resourceType);
  const dotted = segments.filter((segment) => typeof segment === 'string').map(normalizeSecretKey).join('.');
  for (const [resource, paths] of Object.entries(APISIX_RESOURCE_SECRET_PATHS)) {
    const name = resource.replace(/\(.*\)$/, '');
    const isType = type === name || type === `${name}s` || (name === 'ssl' && SSL_RESOURCE_TYPES.has(type));
    if (isType && paths.includes(dotted)) return `${resourceType} ${fieldText(segments)}`;
  }
  return undefined;
}
