import { describe, expect, it } from 'vitest';
import { createSecretPolicy, hasEscapedKey, maskEntry, maskEntryJson, maskSecrets, mayHoldSecret, SECRET_MASK } from '../../src/secrets/policy.js';
import type { AuditEntry } from '../../src/domain.js';
import { makeEntry, pick } from './output-fixtures.js';
import { seededRandom } from '../support/random.js';

const policy = createSecretPolicy();

describe('hasEscapedKey', () => {
  it.each([
    [String.raw`{"pass\u0077ord": 1}`, true],
    [String.raw`{"a": {"k\"ey" : 1}}`, true],
    [String.raw`{"a\\": 1}`, true],
    ['{"a": 1}', false],
    [String.raw`{"path": "C:\\temp\\logs", "pem": "-----BEGIN\nAAA\n-----END"}`, false],
    [String.raw`{"v": "ends with a quote \"", "next": 1}`, false],
    [String.raw`["x\\", ":"]`, false],
    [String.raw`{"v": "\\"}`, false],
  ])('%s -> %s', (text, expected) => {
    expect(hasEscapedKey(text)).toBe(expected);
  });

  it('agrees with a parse of the text on random objects whose keys and values hold escapes', () => {
    const random = seededRandom(7);
    const pieces = ['a', 'b', '"', '\\', '\n', 'ü', ':', ' ', '\u0001', '東'];
    const word = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(random, pieces)).join('');
    for (let round = 0; round < 500; round += 1) {
      const value: Record<string, unknown> = {};
      for (let i = 0; i < 4; i += 1) value[word()] = random() < 0.3 ? { [word()]: word() } : [word(), word()];
      const text = JSON.stringify(value, null, random() < 0.5 ? 0 : 2);
      // JSON.stringify wrote the text, so a key is written with an escape exactly when stringifying it alone gives one.
      const escaped = (node: unknown): boolean =>
        typeof node === 'object' && node !== null &&
        Object.entries(node).some(([key, item]) => (!Array.isArray(node) && JSON.stringify(key).includes('\\')) || escaped(item));
      expect(hasEscapedKey(text), text).toBe(escaped(value));
    }
  });
});

describe('mayHoldSecret for key and keys', () => {
  it.each([
    ['{"plugins": {"limit-count": {"key": "remote_addr"}}}', false],
    ['{"resource_type": "route", "after": {"keys": ["a"]}}', false],
    ['{"plugins": {"Key-Auth": {"key": "k"}}}', true],
    ['{"plugins": {"csrf": {"key": "k"}}}', true],
    ['{"cert": "c", "key": "k"}', true],
    ['{"CERTS": ["c"], "keys": ["k"]}', true],
    ['{"resource_type": "SSL", "after": {"key": "k"}}', true],
    ['{"resource_type": "certificates", "after": {"keys": ["k"]}}', true],
    [String.raw`{"resource_type": "\u0073sl", "after": {"key": "k"}}`, true],
  ])('%s -> %s', (text, expected) => {
    expect(mayHoldSecret(text, policy)).toBe(expected);
  });

  it('treats key as a secret everywhere when the policy says so', () => {
    const strict = createSecretPolicy({ keys: ['key'] });
    expect(mayHoldSecret('{"limit-count": {"key": "remote_addr"}}', strict)).toBe(true);
    expect(maskEntryJson('{"limit-count": {"key": "remote_addr"}}', strict)).toBe(`{"limit-count":{"key":"${SECRET_MASK}"}}`);
  });

  it('finds nothing when the policy names no keys and the contextual ones have no context', () => {
    const none = createSecretPolicy({ keys: [], mode: 'replace' });
    expect(mayHoldSecret('{"password": "p", "key": "k"}', none)).toBe(false);
    expect(mayHoldSecret('{"cert": "c", "key": "k"}', none)).toBe(true);
  });
});

describe('maskEntryJson (in place)', () => {
  it('returns the text unchanged, byte for byte, when a key only looked like a secret', () => {
    const text = '{"id": "1", "resource_type": "route", "before": null, "after": {"plugins": {"limit-count": {"key": "remote_addr", "count": 10}}}}';
    expect(maskEntryJson(text, policy)).toBe(text);
  });

  it('masks the same values as maskEntry and maskSecrets, on random entries and plain values', () => {
    const random = seededRandom(99);
    const keys = ['uri', 'key', 'keys', 'cert', 'certs', 'key-auth', 'csrf', 'Password', 'X-API-KEY', 'nodes', 'plugins', '__proto__', 'token'];
    const tree = (depth: number): unknown => {
      if (depth > 4 || random() < 0.3) return pick(random, ['v', 3, null, true, 'password']);
      if (random() < 0.25) return [tree(depth + 1), tree(depth + 1)];
      const out: Record<string, unknown> = {};
      for (let i = 0; i < 3; i += 1) Object.defineProperty(out, pick(random, keys), { value: tree(depth + 1), enumerable: true, writable: true, configurable: true });
      return out;
    };
    // Written as PostgreSQL, JSON.stringify or a person would: spacing, and now and then a key spelled with escapes.
    const write = (value: unknown) => {
      const text = JSON.stringify(value, null, pick(random, [0, 0, 1, '\t']));
      return random() < 0.2 ? text.replace(/"(key|token|cert|before)":/g, (_, name: string) => `"${name[0]}\\u00${name.charCodeAt(1).toString(16)}${name.slice(2)}" :`) : text;
    };
    for (let round = 0; round < 800; round += 1) {
      const entry: AuditEntry = makeEntry({ resource_type: pick(random, ['route', 'ssl', 'SSLs', 'consumer']), before: tree(0), after: tree(0) });
      const text = write(entry);
      expect(JSON.parse(maskEntryJson(text, policy)), text).toEqual(JSON.parse(JSON.stringify(maskEntry(JSON.parse(text) as AuditEntry, policy))));
      const plain = tree(0);
      const plainText = write(plain);
      expect(JSON.parse(maskEntryJson(plainText, policy)), plainText).toEqual(JSON.parse(JSON.stringify(maskSecrets(JSON.parse(plainText), policy))));
    }
  });

  it('throws on invalid JSON, as before', () => {
    expect(() => maskEntryJson('{"token": "t",}', policy)).toThrow(SyntaxError);
    expect(() => maskEntryJson('{"token": tru}', policy)).toThrow(SyntaxError);
    expect(() => maskEntryJson('{"token": "t"} x', policy)).toThrow(SyntaxError);
  });

  it('keeps a __proto__ key as data', () => {
    const masked = JSON.parse(maskEntryJson('{"__proto__": {"token": "t"}, "x": 1}', policy)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(masked, '__proto__')?.value).toEqual({ token: SECRET_MASK });
  });

  it('masks what lies deeper than 200 levels (fail closed), like maskSecrets', () => {
    let deep: unknown = { token: 't' };
    for (let i = 0; i < 250; i += 1) deep = { a: deep };
    const text = JSON.stringify({ key: 'k', nested: deep });
    expect(JSON.parse(maskEntryJson(text, createSecretPolicy({ keys: ['key'] })))).toEqual(maskSecrets(JSON.parse(text), createSecretPolicy({ keys: ['key'] })));
  });
});
