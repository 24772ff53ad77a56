import { describe, expect, it } from 'vitest';
import { createMasker, type HistoryItem } from '../../src/commands/history/run.js';
import { toCanonicalEntry } from '../../src/output/canonical.js';
import { createSecretPolicy, maskEntry } from '../../src/secrets/policy.js';
import { INVALID_JSON_KEY, type AuditEntry } from '../../src/domain.js';
import { makeEntry, pick } from './output-fixtures.js';
import { seededRandom } from '../support/random.js';

const policy = createSecretPolicy();

/** The timeline item as history built it before the shortcut: every entry masked, its diff taken on the masked states. */
function maskedItem(raw: AuditEntry, withPolicy = policy) {
  const masker = createMasker(false, withPolicy);
  const entry = masker.entry(raw);
  return { entry, changes: masker.changes(raw.before, raw.after, entry.before, entry.after) };
}

/**
 * What output reads of an item: its canonical entry, its changes, and the entry's JSON text that NDJSON writes as it
 * is, which must be the walkers' masked entry printed (a text-way mask the walkers would not make shows here).
 */
function expectSameItem(item: HistoryItem, raw: AuditEntry, label?: string, withPolicy = policy) {
  const expected = maskedItem(raw, withPolicy);
  expect({ entry: toCanonicalEntry(item.entry), changes: item.changes }, label).toEqual({ entry: toCanonicalEntry(expected.entry), changes: expected.changes });
  if (item.json !== undefined) expect(item.json, label).toBe(JSON.stringify(toCanonicalEntry(expected.entry)));
}

/** The shortcut: the entry as it came, its JSON text unmasked. */
const skipsMasking = (item: HistoryItem, raw: AuditEntry) => item.entry === raw && item.json !== undefined;

describe('history: an entry masking would leave as it is skips the masking', () => {
  it.each([
    ['******', policy],
    ['fingerprints', createSecretPolicy({ fingerprintKey: 'k'.repeat(32) })],
  ])('gives the same entry, changes and text as masking every entry, on random entries (%s)', (_, withPolicy) => {
    const random = seededRandom(17);
    const keys = ['uri', 'key', 'keys', 'cert', 'certs', 'key-auth', 'limit-count', 'csrf', 'Password', 'X-API-KEY', 'nodes', 'plugins', 'name', 'value', 'desc', '__proto__', 'token', 'a', 'b'];
    const values = [
      'v', 3, null, true, 'password', 'Authorization', 'Bearer abc.def.ghi', 'remote_addr', 'AKIAIOSFODNN7EXAMPLE', '{"token": "t"}', 'x', 'DB_PASSWORD',
      'postgres://app:s3cret@db.internal/orders', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl',
    ];
    const tree = (depth: number): unknown => {
      if (depth > 4 || random() < 0.3) return pick(random, values);
      if (random() < 0.25) return [tree(depth + 1), tree(depth + 1)];
      const out: Record<string, unknown> = {};
      for (let i = 0; i < 3; i += 1) Object.defineProperty(out, pick(random, keys), { value: tree(depth + 1), enumerable: true, writable: true, configurable: true });
      return out;
    };
    const masker = createMasker(false, withPolicy);
    let skipped = 0;
    for (let round = 0; round < 3000; round += 1) {
      const before = random() < 0.1 ? null : tree(0);
      // Most changes touch a few values of the same document.
      const after = random() < 0.5 ? structuredClone(before) : tree(0);
      if (after !== null && typeof after === 'object' && !Array.isArray(after)) (after as Record<string, unknown>).revision = round;
      const raw = makeEntry({ resource_type: pick(random, ['route', 'ssl', 'SSLs', 'consumer', 'certificate']), before, after });
      const item = masker.item(raw);
      if (skipsMasking(item, raw)) skipped += 1;
      expectSameItem(item, raw, JSON.stringify(raw), withPolicy);
    }
    // The shortcut was taken often enough for the comparison to mean something.
    expect(skipped).toBeGreaterThan(100);
  });

  it('masks what lies deeper than the walkers go, a state marked invalid JSON, and an SSL key', () => {
    let deep: unknown = { a: 'v' };
    for (let i = 0; i < 250; i += 1) deep = { a: deep };
    const cases = [
      makeEntry({ before: { nested: deep }, after: { nested: deep, b: 1 } }),
      makeEntry({ before: { [INVALID_JSON_KEY]: 'invalid_json', raw: 'password=hunter2' }, after: { uri: '/a' } }),
      makeEntry({ resource_type: 'ssl', before: { key: 'k1', sni: 'a' }, after: { key: 'k2', sni: 'a' } }),
    ];
    for (const raw of cases) {
      const item = createMasker(false, policy).item(raw);
      expect(skipsMasking(item, raw)).toBe(false);
      expectSameItem(item, raw);
    }
    expect(maskEntry(cases[0] as AuditEntry, policy)).not.toEqual(cases[0]);
  });

  it('leaves a plain route alone and takes its diff as it is', () => {
    const raw = makeEntry();
    const item = createMasker(false, policy).item(raw);
    expect(skipsMasking(item, raw)).toBe(true);
    expect(item.changes).toEqual([{ path: '$.upstream.nodes[0].host', before: 'a.internal', after: 'b.internal' }]);
  });
});
