import { describe, it, expect } from 'vitest';
import {
  DEFAULT_SECRET_KEYS,
  SECRET_MASK,
  createSecretPolicy,
  maskEntry,
  maskSecrets,
} from '../../src/secrets/policy.js';
import { makeEntry } from './output-fixtures.js';

const policy = createSecretPolicy();

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

describe('maskSecrets', () => {
  it.each(DEFAULT_SECRET_KEYS)('masks %s whatever the type of its value', (key) => {
    for (const value of ['s3cr3t', 12345, ['a', 'b'], { nested: 'x' }, true]) {
      expect(maskSecrets({ [key]: value, name: 'kept' }, policy)).toEqual({ [key]: SECRET_MASK, name: 'kept' });
    }
  });

  it('covers the credentials of the API7 / APISIX auth plugins', () => {
    const consumer = {
      username: 'alice',
      plugins: {
        'key-auth': { key: 'ka-secret' },
        'basic-auth': { username: 'a', password: 'p' },
        'jwt-auth': { key: 'user-key', secret: 'jwt-secret', private_key: 'pem', algorithm: 'RS256' },
        'hmac-auth': { key_id: 'kid', secret_key: 'hmac-secret' },
        'openid-connect': { client_id: 'cid', client_secret: 'oidc-secret', session: { secret: 'sess' } },
        csrf: { key: 'csrf-signing-key' },
        'limit-count': { key: 'remote_addr', count: 2, redis_password: 'r' },
      },
    };
    expect(maskSecrets(consumer, policy)).toEqual({
      username: 'alice',
      plugins: {
        'key-auth': { key: SECRET_MASK },
        'basic-auth': { username: 'a', password: SECRET_MASK },
        'jwt-auth': { key: 'user-key', secret: SECRET_MASK, private_key: SECRET_MASK, algorithm: 'RS256' },
        'hmac-auth': { key_id: 'kid', secret_key: SECRET_MASK },
        'openid-connect': { client_id: 'cid', client_secret: SECRET_MASK, session: { secret: SECRET_MASK } },
        csrf: { key: SECRET_MASK },
        'limit-count': { key: 'remote_addr', count: 2, redis_password: SECRET_MASK },
      },
    });
  });

  it('masks the key and keys of an SSL object, and only there', () => {
    const ssl = { cert: 'CERT', key: 'PRIVATE', snis: ['a.example.com'], certs: ['C2'], keys: ['K2', 'K3'] };
    expect(maskSecrets(ssl, policy)).toEqual({ ...ssl, key: SECRET_MASK, keys: SECRET_MASK });
    expect(maskSecrets({ certs: ['C'], keys: ['K'] }, policy)).toEqual({ certs: ['C'], keys: SECRET_MASK });
    const notSsl = { key: 'remote_addr', keys: ['a', 'b'] };
    expect(maskSecrets(notSsl, policy)).toEqual(notSsl);
  });

  it('matches names case-insensitively with - and _ alike', () => {
    const input = { PASSWORD: 1, 'Client-Secret': 2, 'X-API-KEY': 3, Api_Key: 4, 'ACCESS-token': 5, Key_Auth: 6 };
    const output = maskSecrets({ ...input, Plugins: { 'KEY_AUTH': { KEY: 'k' } } }, policy) as Record<string, unknown>;
    for (const key of ['PASSWORD', 'Client-Secret', 'X-API-KEY', 'Api_Key', 'ACCESS-token']) {
      expect(output[key]).toBe(SECRET_MASK);
    }
    expect(output['Key_Auth']).toBe(6);
    expect(output['Plugins']).toEqual({ KEY_AUTH: { KEY: SECRET_MASK } });
  });

  it('masks inside nested arrays', () => {
    const input = { groups: [[{ password: 'x', user: 'u' }], [{ ssl: [{ cert: 'c', key: 'k' }] }]] };
    expect(maskSecrets(input, policy)).toEqual({
      groups: [[{ password: SECRET_MASK, user: 'u' }], [{ ssl: [{ cert: 'c', key: SECRET_MASK }] }]],
    });
  });

  it('never mutates its input and returns a copy', () => {
    const input = deepFreeze({ a: { password: 'p', list: [{ token: 't' }] }, b: [1, 2] });
    const snapshot = structuredClone(input);
    const output = maskSecrets(input, policy) as typeof input;
    expect(input).toEqual(snapshot);
    expect(output.b).not.toBe(input.b);
  });

  it('keeps a __proto__ key as data instead of changing the prototype', () => {
    const input: unknown = JSON.parse('{"__proto__": {"password": "p", "polluted": true}}');
    const output = maskSecrets(input, policy) as Record<string, unknown>;
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.hasOwn(output, '__proto__')).toBe(true);
    expect(JSON.stringify(output)).toBe('{"__proto__":{"password":"******","polluted":true}}');
  });

  it('stops at depth 200 and masks what lies deeper (fail closed)', () => {
    let deep: unknown = { password: 'deep-secret', note: 'deep-public' };
    for (let i = 0; i < 1000; i++) deep = i % 2 === 0 ? { child: deep } : [deep];
    const text = JSON.stringify(maskSecrets(deep, policy));
    expect(text).not.toContain('deep-secret');
    expect(text).toContain(SECRET_MASK);
  });
});

describe('createSecretPolicy', () => {
  it('extends the defaults by default, normalizing the names', () => {
    const extended = createSecretPolicy({ keys: ['X-Vendor-Credential'] });
    expect(maskSecrets({ x_vendor_credential: 'a', password: 'b' }, extended)).toEqual({
      x_vendor_credential: SECRET_MASK,
      password: SECRET_MASK,
    });
  });

  it('replaces the defaults only when asked, keeping the contextual rules', () => {
    const replaced = createSecretPolicy({ keys: ['pin'], mode: 'replace' });
    const input = { pin: 1, password: 'p', cert: 'c', key: 'k', plugins: { 'key-auth': { key: 'ka' } } };
    expect(maskSecrets(input, replaced)).toEqual({
      pin: SECRET_MASK,
      password: 'p',
      cert: 'c',
      key: SECRET_MASK,
      plugins: { 'key-auth': { key: SECRET_MASK } },
    });
  });
});

describe('maskEntry', () => {
  it('masks before and after and leaves the other fields alone', () => {
    const entry = makeEntry({ before: { password: 'old' }, after: { password: 'new', name: 'n' } });
    const masked = maskEntry(entry, policy);
    expect(masked).toEqual({ ...entry, before: { password: SECRET_MASK }, after: { password: SECRET_MASK, name: 'n' } });
    expect(entry.before).toEqual({ password: 'old' });
  });

  it('masks the root key of an SSL resource even when the change carries no cert', () => {
    const entry = makeEntry({ resource_type: 'ssl', before: { key: 'OLD-PEM' }, after: { key: 'NEW-PEM' } });
    expect(maskEntry(entry, policy)).toMatchObject({ before: { key: SECRET_MASK }, after: { key: SECRET_MASK } });
    const route = makeEntry({ before: { key: 'remote_addr' }, after: null });
    expect(maskEntry(route, policy).before).toEqual({ key: 'remote_addr' });
  });
});
