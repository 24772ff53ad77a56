import { describe, it, expect } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { childPath, diffChanges, type Change } from '../../src/output/changes.js';
import { hiddenSecretChanges } from '../../src/output/secret-changes.js';
import { createSecretPolicy, maskEntry, SECRET_MASK } from '../../src/secrets/policy.js';
import { seededRandom } from '../support/random.js';

const policy = createSecretPolicy();

/** The listing as first written: every raw change checked against every visible path (quadratic, but plainly right). */
function reference(raw: AuditEntry, masked: AuditEntry): Change[] {
  const visible = diffChanges(masked.before, masked.after).map((change) => change.path);
  const under = (path: string, root: string) => path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`);
  const isVisible = (path: string) => visible.some((shown) => under(path, shown));
  // A change inside a masked value is listed once, at the masked value: the names inside it stay hidden.
  const roots = maskedRoots('$', masked.before, masked.after);
  const seen = new Set<string>();
  return diffChanges(raw.before, raw.after)
    .filter((change) => !isVisible(change.path))
    .map((change) => {
      const root = roots.find((path) => under(change.path, path));
      if (root !== undefined) return { path: root, before: SECRET_MASK, after: SECRET_MASK };
      return { path: change.path, ...('before' in change ? { before: SECRET_MASK } : {}), ...('after' in change ? { after: SECRET_MASK } : {}) };
    })
    .filter((change) => !seen.has(change.path) && seen.add(change.path) !== undefined);
}

/** Paths where both masked sides are the mask. */
function maskedRoots(path: string, before: unknown, after: unknown): string[] {
  if (before === SECRET_MASK && after === SECRET_MASK) return [path];
  if (typeof before !== 'object' || before === null || typeof after !== 'object' || after === null || Array.isArray(before) !== Array.isArray(after)) return [];
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return Object.keys(a)
    .filter((key) => Object.hasOwn(b, key))
    .flatMap((key) => maskedRoots(Array.isArray(before) ? `${path}[${key}]` : childPath(path, key), a[key], b[key]));
}

function entry(before: unknown, after: unknown, resourceType = 'route'): AuditEntry {
  return { id: '1', timestamp: '2026-01-01T00:00:00.000000Z', operator: 'a', operation: 'UPDATE', resource_type: resourceType, resource_id: 'r', resource_name: null, source_ip: null, source: null, before, after } as AuditEntry;
}

const KEYS = ['password', 'token', 'key', 'cert', 'name', 'nodes', 'key-auth', 'a.b', 'x'];

function randomValue(random: () => number, depth: number): unknown {
  const roll = random();
  if (depth > 4 || roll < 0.35) return [null, 'v', 'w', 1, 2, true][Math.floor(random() * 6)];
  if (roll < 0.55) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
  const object: Record<string, unknown> = {};
  for (let count = Math.floor(random() * 4); count > 0; count--) object[KEYS[Math.floor(random() * KEYS.length)] as string] = randomValue(random, depth + 1);
  return object;
}

/** A copy with a few random leaves, keys or elements changed. */
function mutate(random: () => number, value: unknown, depth = 0): unknown {
  if (random() < 0.15) return randomValue(random, depth);
  if (Array.isArray(value)) return value.filter(() => random() > 0.1).map((item) => mutate(random, item, depth + 1));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (random() > 0.1) copy[key] = mutate(random, item, depth + 1);
    if (random() < 0.2) copy[KEYS[Math.floor(random() * KEYS.length)] as string] = randomValue(random, depth + 1);
    return copy;
  }
  return value;
}

describe('hiddenSecretChanges', () => {
  it('lists a rotated password and a changed key-auth key, masked, and nothing that the diff shows', () => {
    const raw = entry({ plugins: { 'key-auth': { key: 'k1' } }, password: 'p1', uri: '/a' }, { plugins: { 'key-auth': { key: 'k2' } }, password: 'p2', uri: '/b' });
    expect(hiddenSecretChanges(raw, maskEntry(raw, policy))).toEqual([
      { path: '$.password', before: SECRET_MASK, after: SECRET_MASK },
      { path: '$.plugins["key-auth"].key', before: SECRET_MASK, after: SECRET_MASK },
    ]);
  });

  it('lists a masked object once, at its own path, without the key names inside it', () => {
    const raw = entry({ token: { 'LEAK-keyname-old': 1 }, uri: '/a' }, { token: { 'LEAK-keyname-new': 1 }, uri: '/a' });
    const hidden = hiddenSecretChanges(raw, maskEntry(raw, policy));
    expect(hidden).toEqual([{ path: '$.token', before: SECRET_MASK, after: SECRET_MASK }]);
    expect(JSON.stringify(hidden)).not.toContain('LEAK');
  });

  it('agrees with the quadratic listing on 3,000 random entries', () => {
    const random = seededRandom(7);
    let withHidden = 0;
    for (let round = 0; round < 3000; round++) {
      const before = round % 17 === 0 ? null : randomValue(random, 0);
      const after = round % 19 === 0 ? null : mutate(random, before);
      const raw = entry(before, after, round % 5 === 0 ? 'ssl' : 'route');
      const masked = maskEntry(raw, policy);
      const hidden = hiddenSecretChanges(raw, masked);
      expect(hidden).toEqual(reference(raw, masked));
      if (hidden.length > 0) withHidden++;
    }
    expect(withHidden).toBeGreaterThan(200);
  });

  it('lists 100,000 rotated secrets of one array, and none when the diff shows them', () => {
    const before = { users: Array.from({ length: 100_000 }, (_, index) => ({ name: `u${index}`, password: `old${index}` })) };
    const after = { users: before.users.map((user) => ({ ...user, password: `new${user.name}` })) };
    const raw = entry(before, after);
    const hidden = hiddenSecretChanges(raw, maskEntry(raw, policy));
    expect(hidden).toHaveLength(100_000);
    expect(hidden[99_999]).toEqual({ path: '$.users[99999].password', before: SECRET_MASK, after: SECRET_MASK });
    const renamed = entry(before, { users: before.users.map((user) => ({ name: `${user.name}!`, password: 'x' })) });
    expect(hiddenSecretChanges(renamed, maskEntry(renamed, policy))).toHaveLength(100_000);
    const shown = entry(before, { users: 'gone' });
    expect(hiddenSecretChanges(shown, maskEntry(shown, policy))).toEqual([]);
  });
});
