import { describe, it, expect } from 'vitest';
import {
  DEFAULT_SECRET_KEYS,
  SECRET_MASK,
  createSecretPolicy,
  maskEntryJson,
  maskSecrets,
  mayHoldSecret,
} from '../../src/secrets/policy.js';
import { makeEntry, pick } from './output-fixtures.js';
import { seededRandom as createRandom } from '../support/random.js';

const policy = createSecretPolicy();

describe('mayHoldSecret and maskEntryJson', () => {
  const route = JSON.stringify({ uri: '/a', upstream: { nodes: [{ host: 'h', port: 1 }] }, desc: 'password policy' });

  it('rules out text without secret keys, returning it unchanged', () => {
    expect(mayHoldSecret(route, policy)).toBe(false);
    expect(maskEntryJson(route, policy)).toBe(route);
  });

  it('flags every default key, spaced as PostgreSQL prints jsonb', () => {
    for (const key of DEFAULT_SECRET_KEYS) {
      expect(mayHoldSecret(`{"a": {"${key.toUpperCase().replaceAll('_', '-')}" : 1}}`, policy)).toBe(true);
    }
  });

  it('falls back to parsing when a key holds an escape that could spell a secret name', () => {
    const escaped = String.raw`{"pass\u0077ord": "hunter2", "plugins": {"key-auth": {"k\u0065y": "ka-secret"}}}`;
    expect(mayHoldSecret(escaped, policy)).toBe(true);
    const masked = maskEntryJson(escaped, policy);
    expect(masked).not.toContain('hunter2');
    expect(masked).not.toContain('ka-secret');
    expect(JSON.parse(masked)).toEqual({ password: SECRET_MASK, plugins: { 'key-auth': { key: SECRET_MASK } } });
  });

  it('stays linear on long values full of escapes (a PEM certificate)', () => {
    const text = JSON.stringify({ cert: 'MIIB\n'.repeat(200_000), name: 'n' });
    const started = performance.now();
    expect(mayHoldSecret(text, createSecretPolicy({ keys: [], mode: 'replace' }))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('catches names that only Unicode case folding maps to ASCII (Kelvin sign)', () => {
    const text = '{"plugins": {"key-auth": {"\u212Aey": "ka-secret"}}}';
    expect(mayHoldSecret(text, policy)).toBe(true);
    expect(maskEntryJson(text, policy)).not.toContain('ka-secret');
  });

  it('flags a Kelvin sign anywhere with ASCII names, and matches non-ASCII names of a policy in any case', () => {
    expect(mayHoldSecret('{"a": {"to\u212Aen": 1}}', policy)).toBe(true);
    expect(maskEntryJson('{"a": {"to\u212Aen": "t"}}', policy)).not.toContain('"t"');
    const german = createSecretPolicy({ keys: ['Pässwort'] });
    expect(mayHoldSecret('{"a": {"PÄSSWORT": "geheim"}}', german)).toBe(true);
    expect(maskEntryJson('{"a": {"PÄSSWORT": "geheim"}}', german)).not.toContain('geheim');
    expect(mayHoldSecret('{"a": {"passwort": "x"}}', german)).toBe(false);
  });

  it('masks an entry row in place, keeping its other fields and their order', () => {
    const entry = makeEntry({ resource_type: 'ssl', before: null, after: { key: 'PEM', snis: ['a'] } });
    const masked = JSON.parse(maskEntryJson(JSON.stringify(entry), policy)) as Record<string, unknown>;
    expect(Object.keys(masked)).toEqual(Object.keys(entry));
    expect(masked).toEqual({ ...entry, after: { key: SECRET_MASK, snis: ['a'] } });
  });

  it('is never false when the text holds a secret (random objects, secrets at random depths)', () => {
    const random = createRandom(20240501);
    const fillerKeys = ['uri', 'host', 'nodes', 'plugins', 'limit-count', 'desc', 'labels', 'key', 'cert', 'weight'];
    const variant = (name: string) =>
      [...name].map((c) => (c === '_' && random() < 0.5 ? '-' : random() < 0.5 ? c.toUpperCase() : c)).join('');
    const filler = (depth: number): unknown => {
      if (depth > 3 || random() < 0.4) return pick(random, ['text', 7, true, null, 'password']);
      if (random() < 0.3) return [filler(depth + 1), filler(depth + 1)];
      return Object.fromEntries([0, 1, 2].map(() => [pick(random, fillerKeys), filler(depth + 1)]));
    };
    for (let round = 0; round < 400; round++) {
      const marker = `SECRET-${round}`;
      const value = pick(random, [marker, [marker], { inner: marker }]);
      const planted = pick(random, [
        () => ({ [variant(pick(random, DEFAULT_SECRET_KEYS))]: value }),
        () => ({ cert: 'C', [variant('key')]: value }),
        () => ({ certs: ['C'], [variant('keys')]: [value] }),
        () => ({ [variant('key_auth')]: { [variant('key')]: value } }),
      ])();
      let tree: unknown = { ...(filler(0) as object), ...planted };
      for (let depth = Math.floor(random() * 8); depth > 0; depth--) {
        tree = random() < 0.3 ? [filler(2), tree] : { [pick(random, fillerKeys)]: tree, other: filler(2) };
      }
      const text = JSON.stringify(tree, null, pick(random, [0, 2, '\t']));
      expect(mayHoldSecret(text, policy), text).toBe(true);
      expect(maskEntryJson(text, policy), text).not.toContain(marker);

      // And for text without a planted secret: when the fast path says "no", masking must change nothing.
      const plain = filler(0);
      if (!mayHoldSecret(JSON.stringify(plain), policy)) expect(maskSecrets(plain, policy)).toEqual(plain);
    }
  });
});
