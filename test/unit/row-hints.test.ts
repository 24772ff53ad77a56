import { describe, expect, it } from 'vitest';
import { fromByteString, toByteString } from '../../src/byte-string.js';
import type { AuditEntry } from '../../src/domain.js';
import { createSecretPolicy, maskEntry, maskEntryBytes, maskEntryJson, mayHoldSecret } from '../../src/secrets/policy.js';
import { compileHintRules, CONTEXTUAL_KEY, NO_HINT, rowHints, SECRET_KEY, STRING_VALUE, WALKERS } from '../../src/secrets/row-hints.js';
import { seededRandom } from '../support/random.js';
import { makeEntry, pick, randomTrees } from './output-fixtures.js';

// The export's one-scan pre-check (row-hints.ts) must say "maybe" wherever the object walkers mask something: a row
// it clears goes out as it is. These try to slip a secret past it.

const policy = createSecretPolicy();

/** Every masking path of one entry, parsed back: the walker, the JSON text, the byte string (compact and as jsonb). */
function everyPath(entry: AuditEntry, using = policy): unknown[] {
  const compact = JSON.stringify(entry);
  const jsonb = compact.replace(/("(?:[^"\\]|\\.)*")|([:,])/g, (_, str: string, punct: string) => str ?? `${punct} `);
  return [
    maskEntry(entry, using),
    JSON.parse(maskEntryJson(compact, using)),
    JSON.parse(fromByteString(maskEntryBytes(toByteString(compact), using))),
    JSON.parse(fromByteString(maskEntryBytes(toByteString(jsonb), using))),
  ];
}

/** Names the walkers mask once trimmed, lower-cased and read with `-` as `_`, spelled the ways that slip past patterns. */
const HOSTILE_NAMES = [
  'password\u00a0', '\u00a0password', 'password\u2028', 'password\ufeff', 'x\u3000token', 'password\n', '\tpassword', 'Password ',
  'pass\u0077ord', 'to\u212Aen', 'PASSWORD', 'dbPassword', 'x-api-key', 'X_API-KEY', 'clientRSAPrivateKey', 'client-secret',
  'Authorization', 'proxy-authorization ', 'secret_fallbacks', 'service_account_json',
];

describe('the pre-check lets every hostile spelling of a secret name through to the masking', () => {
  it.each(HOSTILE_NAMES)('%j as a key is masked on every path', (name) => {
    const entry = makeEntry({ before: null, after: { [name]: 'CNRY-value', note: 'visible' } });
    expect(mayHoldSecret(JSON.stringify(entry), policy)).toBe(true);
    for (const masked of everyPath(entry)) {
      expect(JSON.stringify(masked)).not.toContain('CNRY');
      expect(JSON.stringify(masked)).toContain('visible');
    }
  });

  it.each(HOSTILE_NAMES.filter((name) => name.trim().length < 40))('%j naming a value in a name/value list masks that value', (name) => {
    const entry = makeEntry({ before: null, after: { env: [{ name, value: 'CNRY-value' }], note: 'visible' } });
    for (const masked of everyPath(entry)) expect(JSON.stringify(masked)).not.toContain('CNRY');
  });

  it('a secret value in any string: header lines, assignments, bearer tokens, URLs, JWTs, PEM blocks, JSON in a string', () => {
    const values = [
      'Cookie:sid=CNRY1', 'x\nAuthorization: Basic CNRY2', '?a=1&access_token=CNRY3', 'Bearer CNRY4abcdefgh1', 'BEARER\tCNRY5abcdefgh1',
      'redis://:CNRY6@cache:6379', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDTlJZNyJ9.CNRY7sig', '-----BEGIN RSA PRIVATE KEY-----\nCNRY8\n-----END RSA PRIVATE KEY-----',
      '{"password": "CNRY9"}', ' [{"token": "CNRY10"}]', 'host=db password=CNRY11 dbname=x',
    ];
    for (const value of values) {
      const entry = makeEntry({ before: null, after: { note: value, other: 'visible' } });
      for (const masked of everyPath(entry)) expect(JSON.stringify(masked), value).not.toContain('CNRY');
    }
  });
});

describe('masking where the hits are (mask-hits.ts) gives the walkers\' result', () => {
  // Small states, so that their one or two hits decide the row without the scanner; `CNRY` marks what must be masked.
  const cases: [string, string, unknown][] = [
    ['key-auth key', 'route', { plugins: { 'key-auth': { key: 'CNRY1' } } }],
    ['key-auth key after a sibling', 'route', { plugins: { 'key-auth': { header: 'apikey', key: 'CNRY2' } } }],
    ['key-auth key in a list', 'consumer', { plugins: { 'key-auth': [{ key: 'CNRY3' }] } }],
    ['plugins as a list', 'route', { plugins: [{ name: 'key-auth', config: { key: 'CNRY4' } }] }],
    ['csrf key', 'route', { plugins: { csrf: { expires: 7200, key: 'CNRY5' } } }],
    ['key beside a cert', 'route', { tls: { cert: 'c', key: 'CNRY6' } }],
    ['key beside a cert that comes after it', 'route', { tls: { key: 'CNRY7', cert: 'c' } }],
    ['keys of an SSL resource', 'ssl', { id: 'x', keys: ['CNRY8'], certs: ['c'] }],
    ['key of an SSL resource without a cert', 'ssl', { id: 'x', key: 'CNRY9' }],
    ['key of an SSL resource, spelled SSLs', 'SSLs', { id: 'x', key: 'CNRY10' }],
    ['ai-proxy auth.header', 'route', { plugins: { 'ai-proxy': { auth: { header: { Authorization: 'CNRY11' } } } } }],
    ['elasticsearch-logger headers', 'route', { plugins: { 'elasticsearch-logger': { headers: { X: 'CNRY12' } } } }],
    ['secrets holding objects, arrays, numbers, null', 'route', { password: { a: [1, 'CNRY13'] }, token: 123456789, secret: null, api_key: [true] }],
    ['a secret string with escapes and brackets', 'route', { plugins: { 'key-auth': { key: 'CNRY14"}{[\\' } } }],
    ['limit-count key, after tricky siblings', 'route', { plugins: { 'limit-count': { a: { b: [1, { c: '}"{' }] }, n: -1.5e3, t: true, key: 'remote_addr' } } }],
    ['proxy-rewrite headers', 'route', { plugins: { 'proxy-rewrite': { headers: { set: { 'X-Env': 'prod' } } } } }],
    ['key at the root of a route', 'route', { id: 'r', key: 'visible' }],
    ['key under an object named before', 'ssl', { x: { before: { key: 'visible?' } } }],
    ['an SSL resource\'s nested object without a cert', 'ssl', { id: 'x', key: 'CNRY15', ext: { key: 'nested-visible' } }],
    ['a cert in another object', 'route', { a: { cert: 'c' }, b: { key: 'other-object-visible' }, c: [{ cert: 'c', key: 'CNRY16' }] }],
    ['keys after a long sibling, beside certs', 'route', { tls: { snis: ['a', { b: '}"{' }], keys: ['CNRY17'], n: 1, certs: ['c'] } }],
  ];
  it.each(cases)('%s', (_, type, state) => {
    for (const using of [policy, createSecretPolicy({ fingerprintKey: 'k' })]) {
      const entry = makeEntry({ resource_type: type, before: null, after: state });
      const [walked, ...others] = everyPath(entry, using);
      for (const other of others) expect(other).toEqual(walked);
      expect(JSON.stringify(walked)).not.toContain('CNRY');
    }
  });

  it('an SSL resource\'s key is masked in both states of an update, and only at their roots', () => {
    for (const type of ['ssl', 'certificate']) {
      const entry = makeEntry({ resource_type: type, before: { id: 's', key: 'CNRY-old', sub: { key: 'v1' } }, after: { id: 's', key: 'CNRY-new', sub: { after: { key: 'v2' } } } });
      const [walked, ...others] = everyPath(entry);
      for (const other of others) expect(other).toEqual(walked);
      expect(JSON.stringify(walked)).not.toContain('CNRY');
      expect(JSON.stringify(walked)).toContain('v2');
    }
  });

  it('a row deeper than the walkers go is theirs', () => {
    let deep: unknown = 'deep';
    for (let i = 0; i < 260; i += 1) deep = { a: deep };
    const entry = makeEntry({ before: null, after: { password: 'CNRY', deep } });
    const [walked, ...others] = everyPath(entry);
    for (const other of others) expect(other).toEqual(walked);
    expect(JSON.stringify(walked)).not.toContain('CNRY');
  });
});

describe('rowHints', () => {
  const rules = compileHintRules(policy.keys, ['key', 'keys', 'headers'], false);
  const hints = (value: unknown) => rowHints(JSON.stringify(value), 0, rules);

  it('clears a plain route, readable names ending in a secret word and text that only looks close', () => {
    expect(hints({ uri: '/orders', plugins: { 'limit-count': { count: 5, key_type: 'var' } }, desc: 'see https://example.com/docs' })).toBe(NO_HINT);
    expect(hints({ max_tokens: 5, total_tokens: 3, passwordless: true, token_ttl: 60, secret_ref: 'vault', public_key: 'x', monkey: 'k' })).toBe(NO_HINT);
  });

  it('tells what it found', () => {
    expect(hints({ password: 'x' })).toBe(SECRET_KEY);
    expect(hints({ key: 'remote_addr' })).toBe(CONTEXTUAL_KEY);
    expect(hints({ note: 'https://u:p@host' })).toBe(STRING_VALUE);
    expect(hints({ env: [{ name: 'DB_PASSWORD', value: 'x' }] })).toBe(WALKERS);
    expect(hints({ 'pass\u00a0': 1, 'password\u00a0': 'x' })).toBe(WALKERS);
  });

  it('matches the walkers on random entries built from hostile names, contextual names in every place and secret-looking values', () => {
    const random = seededRandom(2026_12_03);
    const names = ['uri', 'name', 'value', 'key', 'keys', 'cert', 'plugins', 'key-auth', 'limit-count', 'headers', 'note', 'max_tokens', 'csrf',
      'config', 'elasticsearch-logger', 'ai-proxy', 'auth', 'header', 'Key-Auth', 'before', ...HOSTILE_NAMES];
    const values = ['v', 3, null, true, 'plain', 'Bearer abcdefgh12', 'https://u:pw1@h', 'DB_PASSWORD', 'Authorization', 'tokens', '{"secret": 1}', 'x=1', 'monkey'];
    const tree = randomTrees(random, names, values);
    let masked = 0;
    let cleared = 0;
    for (let round = 0; round < 5000; round += 1) {
      const entry = makeEntry({ resource_type: pick(random, ['route', 'ssl', 'consumer', 'SSLs']), before: tree(), after: tree() });
      const [walked, ...others] = everyPath(entry);
      for (const other of others) expect(other).toEqual(walked);
      if (JSON.stringify(walked) !== JSON.stringify(entry)) masked += 1;
      if (!mayHoldSecret(JSON.stringify(entry), policy)) cleared += 1;
    }
    expect(masked).toBeGreaterThan(500);
    expect(cleared).toBeGreaterThan(50);
  });
});
