import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { createColors } from '../../src/output/colors.js';
import { describeSecretField, findFingerprintChanges } from '../../src/output/secret-changes.js';
import { createSecretPolicy, maskEntry, secretFingerprint } from '../../src/secrets/policy.js';
import { renderShow } from '../../src/output/show.js';
import { makeEntry } from './output-fixtures.js';

const KEY = 'unit-fingerprint-key';
const policy = createSecretPolicy({ fingerprintKey: KEY });
const print = (value: unknown) => secretFingerprint(value, KEY).slice('hmac-sha256:'.length);
const masked = (before: unknown, after: unknown, resourceType = 'route'): AuditEntry => maskEntry(makeEntry({ resource_type: resourceType, before, after }), policy);

describe('describeSecretField', () => {
  it.each([
    ['$.plugins["key-auth"].key', 'route', 'key-auth key'],
    ['$.plugins["ai-proxy"].instances[1].auth.header', 'route', 'ai-proxy instances[1].auth.header'],
    ['$.plugins["kafka-logger"].brokers[0].sasl_config.password', 'consumer_group', 'kafka-logger brokers[0].sasl_config.password'],
    ['$.plugins["aws-lambda"].authorization', 'route', 'aws-lambda authorization'],
    ['$.plugins["KEY-AUTH"].key', 'route', 'KEY-AUTH key'],
    ['$.plugins["key-auth"].key', null, 'key-auth key'],
    ['$.services[0].plugins["basic-auth"].password', 'route', 'basic-auth password in $.services[0]'],
    ['$["we\\"ird"].plugins["key-auth"].key', 'route', 'key-auth key in $["we\\"ird"]'],
    ['$.key', 'ssl', 'ssl key'],
    ['$.keys', 'ssl', 'ssl keys'],
    ['$.key', 'certificate', 'certificate key'],
    ['$.tls.client_key', 'upstreams', 'upstreams tls.client_key'],
    ['$.tls.client_key', 'upstream', 'upstream tls.client_key'],
    ['$.auth_config.private_key', 'secret', 'secret auth_config.private_key'],
  ])('%s in a %s is "%s"', (path, type, label) => {
    expect(describeSecretField(path, type)).toBe(label);
  });

  it.each([
    ['$.plugins["limit-count"].key', 'route'], // not declared: limit-count's key is a client address
    ['$.plugins["key-auth"]', 'route'], // a whole plugin, no field
    ['$.key', 'route'],
    ['$.password', 'ssl'],
    ['$.token', 'route'],
    ['not a path', 'route'],
    ['$.plugins["key-auth"].key[', 'route'],
  ])('%s in a %s is left as the path', (path, type) => {
    expect(describeSecretField(path, type)).toBe(path);
  });
});

describe('findFingerprintChanges', () => {
  it('tells a rotated, an added and a removed secret, leaf by leaf, by their fingerprints', () => {
    const entry = masked(
      { plugins: { 'key-auth': { key: 'k1' }, 'basic-auth': { password: 'p1' } }, uri: '/a' },
      { plugins: { 'key-auth': { key: 'k2' }, 'jwt-auth': { secret: 's', key: 'visible-id' } }, uri: '/b' },
    );
    expect(findFingerprintChanges(entry)).toEqual([
      { path: '$.plugins["basic-auth"].password', before: [print('p1')] },
      { path: '$.plugins["jwt-auth"].secret', after: [print('s')] },
      { path: '$.plugins["key-auth"].key', before: [print('k1')], after: [print('k2')] },
    ]);
  });

  it('a value whose text changed around the same secret is no secret change; another secret inside it is', () => {
    expect(findFingerprintChanges(masked({ cache: 'redis://:pw@a:6379' }, { cache: 'redis://:pw@b:6379' }))).toEqual([]);
    expect(findFingerprintChanges(masked({ cache: 'redis://:pw@a:6379' }, { cache: 'redis://:pw2@a:6379' }))).toEqual([
      { path: '$.cache', before: [print('pw')], after: [print('pw2')] },
    ]);
  });

  it('a secret that became an ordinary value has no fingerprint on that side; a CREATE lists what it set', () => {
    expect(findFingerprintChanges(masked({ url: 'https://u:pw@h' }, { url: 'https://h' }))).toEqual([{ path: '$.url', before: [print('pw')], after: [] }]);
    expect(findFingerprintChanges(masked(null, { plugins: { 'key-auth': { key: 'k' } } }))).toEqual([{ path: '$.plugins["key-auth"].key', after: [print('k')] }]);
  });

  it('finds nothing where secrets are masked without a key, or did not change', () => {
    const raw = makeEntry({ before: { password: 'a' }, after: { password: 'b' } });
    expect(findFingerprintChanges(maskEntry(raw, createSecretPolicy()))).toEqual([]);
    expect(findFingerprintChanges(masked({ password: 'a', uri: '/a' }, { password: 'a', uri: '/b' }))).toEqual([]);
  });
});

describe('renderShow with secret changes', () => {
  const colors = createColors(false);

  it('names the fields in words, one line each with fingerprints, and keeps hidden ones on their line', () => {
    const entry = masked({ plugins: { 'key-auth': { key: 'k1' } } }, { plugins: { 'key-auth': { key: 'k2' } } });
    const text = renderShow(entry, {
      colors,
      fingerprintChanges: findFingerprintChanges(entry),
      hiddenChanges: [{ path: '$.token', before: '******', after: '******' }],
    });
    expect(text.split('\n').slice(-4)).toEqual([
      'Secrets changed:',
      `  key-auth key changed (fingerprint ${print('k1')} -> ${print('k2')})`,
      '',
      'Secrets changed (values hidden): $.token',
    ]);
  });

  it('lists 100 and counts the rest, and escapes what a path could do to a terminal', () => {
    const many = Array.from({ length: 150 }, (_, index) => ({ path: `$.users[${index}].password`, before: ['a'], after: ['b'] }));
    const text = renderShow(masked({}, {}), { colors, fingerprintChanges: [{ path: '$.x\u001b[2J', after: ['c'] }, ...many] });
    expect(text).toContain('  $.x\\u001b[2J added (fingerprint c)\n');
    expect(text).not.toContain('\u001b');
    expect(text).toContain('  $.users[98].password changed (fingerprint a -> b)\n  and 51 more (use --output json for every change)');
  });
});
