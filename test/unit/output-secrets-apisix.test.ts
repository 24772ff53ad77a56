import { describe, expect, it } from 'vitest';
import { fromByteString, toByteString } from '../../src/byte-string.js';
import { maskEntryByteString } from '../../src/secrets/scan-bytes.js';
import { createSecretPolicy, maskEntry, maskEntryBytes, maskEntryJson, mayHoldSecret, SECRET_MASK } from '../../src/secrets/policy.js';
import { APISIX_PLUGIN_SECRET_PATHS, APISIX_RESOURCE_SECRET_PATHS } from '../../src/secrets/apisix-fields.js';
import { atPath, readDeclaredFields } from '../support/apisix-fields.js';
import { seededRandom } from '../support/random.js';
import { makeEntry, pick } from './output-fixtures.js';

const policy = createSecretPolicy();
const CANARY = 'CANARY-7f3a';

/** Every way an entry can be masked: object walker, JSON text, byte string (scanner or parser). */
function allMasks(entry: ReturnType<typeof makeEntry>): string[] {
  const text = JSON.stringify(entry);
  return [JSON.stringify(maskEntry(entry, policy)), maskEntryJson(text, policy), fromByteString(maskEntryBytes(toByteString(text), policy))];
}

describe('APISIX declared secret fields (from the reference list, read at test time)', () => {
  const fields = readDeclaredFields();

  it('the generated data holds exactly the reference list', () => {
    const generated = [
      ...Object.entries(APISIX_PLUGIN_SECRET_PATHS).flatMap(([name, paths]) => paths.map((path) => `plugin\t${name}\t${path}`)),
      ...Object.entries(APISIX_RESOURCE_SECRET_PATHS).flatMap(([name, paths]) => paths.map((path) => `resource\t${name}\t${path}`)),
    ].sort();
    // Besides the list: its ai-proxy instances/semantic_opts paths under ai-proxy-multi too, where APISIX's source
    // declares them (scripts/generate-apisix-fields.mjs, ALSO).
    const also = fields.filter(({ name, path }) => name === 'ai-proxy' && /^(instances|semantic_opts)\./.test(path)).map(({ path }) => `plugin\tai-proxy-multi\t${path}`);
    expect(also.length).toBeGreaterThan(0);
    expect(generated).toEqual([...fields.map(({ kind, name, path }) => `${kind}\t${name}\t${path}`), ...also].sort());
    expect(fields.length).toBeGreaterThanOrEqual(80);
  });

  for (const { kind, name, path } of fields) {
    it(`masks ${kind} ${name} ${path}, and nothing beside it`, () => {
      const value = path.endsWith('headers') ? { 'X-Custom': CANARY } : path.endsWith('keys') ? [CANARY] : CANARY;
      const states =
        kind === 'plugin'
          ? ['route', 'service', 'consumer', 'credential', 'consumer_group', 'global_rule', 'plugin_config'].map((type) => ({
              type,
              state: { id: 'x', plugins: { [name]: atPath(path, value), 'proxy-rewrite': { uri: '/visible' } } },
            }))
          : [{ type: name.startsWith('secret') ? 'secret' : name, state: { id: 'x', ...atPath(path, value) } }];
      for (const { type, state } of states) {
        const entry = makeEntry({ resource_type: type, before: null, after: state });
        for (const masked of allMasks(entry)) {
          expect(masked, `${type}: ${masked}`).not.toContain(CANARY);
          expect(masked).toContain('/visible'.repeat(kind === 'plugin' ? 1 : 0));
          expect(masked).toContain('"neighbour":"visible"');
        }
      }
    });
  }

  it("a plugin's declared field is not masked outside its plugin: limit-count's key stays readable", () => {
    const entry = makeEntry({ before: null, after: { plugins: { 'limit-count': { key: 'remote_addr', count: 1 } }, key: 'not-secret-here' } });
    for (const masked of allMasks(entry)) expect(masked).toContain('remote_addr');
    expect(mayHoldSecret(JSON.stringify(entry), policy)).toBe(false);
  });
});

describe('the byte scanner agrees with the walkers on plugin paths, camelCase and secret values', () => {
  it('on random entries built from plugin names, declared fields and secret-looking values', () => {
    const random = seededRandom(1313);
    const names = ['plugins', 'key-auth', 'key', 'elasticsearch-logger', 'headers', 'ai-proxy', 'instances', 'auth', 'header', 'query', 'sls-logger',
      'access_key_secret', 'accessToken', 'clientSecret', 'KeYS', 'cert', 'name', 'value', 'uri', 'limit-count', 'openid-connect', 'session', 'secret'];
    const plain = ['v', 1, null, 'plain text', 'remote_addr'];
    const values = ['Authorization', 'https://u:pw@h/x', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig', '{"password": "p"}', '-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----', 'Cookie: a=b', 'plain text'];
    const tree = (depth: number): unknown => {
      if (depth > 5 || random() < 0.25) return pick(random, random() < 0.9 ? plain : values);
      if (random() < 0.2) return [tree(depth + 1), tree(depth + 1)];
      const out: Record<string, unknown> = {};
      for (let i = 0; i < 3; i += 1) out[pick(random, names)] = tree(depth + 1);
      return out;
    };
    let scanned = 0;
    for (let round = 0; round < 1500; round += 1) {
      const entry = makeEntry({ resource_type: pick(random, ['route', 'ssl', 'consumer']), before: tree(0), after: tree(0) });
      const [walked, json, bytes] = allMasks(entry).map((text) => JSON.parse(text) as unknown);
      expect(json).toEqual(walked);
      expect(bytes).toEqual(walked);
      if (maskEntryByteString(toByteString(JSON.stringify(entry)), policy.keys) !== undefined) scanned += 1;
    }
    // Enough entries without secret-looking values went through the scanner for the agreement to mean something.
    expect(scanned).toBeGreaterThan(50);
  });
});

describe('generic rules', () => {
  const mask = (after: unknown) => allMasks(makeEntry({ before: null, after }));
  const cases: [string, unknown, string[]][] = [
    ['camelCase keys', { accessToken: 'S1', clientSecret: 'S2', refreshToken: 'S3', authToken: 'S4', privateKey: 'S5', clientRSAPrivateKey: 'S6' }, []],
    ['URL passwords', { url: 'https://user:S1@host.example/x', redis: 'redis://:S2@cache:6379/0', dsn: 'postgres://a:S3@db' }, ['https://user:', '@host.example/x', 'redis://:', '@cache:6379/0']],
    ['header objects', { headers: [{ name: 'Authorization', value: 'Bearer S1' }, { name: 'Cookie', value: 'sid=S2' }, { name: 'Accept', value: 'text/plain' }] }, ['text/plain', 'Authorization']],
    ['header lines', { set: ['Authorization: Bearer S1', 'X-Auth-Token: S2', 'Proxy-Authorization: Basic S3', 'cookie:  S4', 'Accept: json\r\nX-API-Key: S5'] }, ['Accept: json', 'Authorization: ']],
    ['not headers: an operator named apikey:..., a name inside a sentence', { operator: 'apikey:ci-deployer', note: 'no Authorization: here' }, ['apikey:ci-deployer', 'no Authorization: here']],
    ['header maps', { 'X-Auth-Token': 'S1', Cookie: 'S2', 'Proxy-Authorization': 'S3', authorization: 'S4' }, []],
    ['PEM keys under any name', { pem: '-----BEGIN RSA PRIVATE KEY-----\nS1\n-----END RSA PRIVATE KEY-----', other: '-----BEGIN EC PRIVATE KEY-----\nS2' }, []],
    ['JWTs in ordinary fields', { desc: 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTMSJ9.c2lnUzE done', note: 'eyJhbGciOiJub25lIn0.eyJTMiI6MX0.' }, ['token ', ' done']],
    ['JSON held in a string', { config: '{"password":"S1","nested":{"clientSecret":"S2"},"host":"keep-me"}', list: '[{"token":"S3"}]' }, ['keep-me']],
  ];
  for (const [label, after, kept] of cases) {
    it(label, () => {
      for (const masked of mask(after)) {
        expect(masked, masked).not.toMatch(/S[1-6]\b|UzE|eyJzdWIiOiJTMSJ9/);
        for (const text of kept) expect(masked).toContain(JSON.stringify(text).slice(1, -1));
      }
    });
  }

  it('a masked object or array shows no inner key name', () => {
    const after = { token: { 'LEAK-keyname': 'x' }, password: [{ 'LEAK-inner': 1 }], plugins: { 'elasticsearch-logger': { headers: { 'LEAK-header': 'x' } } } };
    for (const masked of mask(after)) {
      expect(masked).not.toContain('LEAK');
      expect(masked).toContain(`"token":"${SECRET_MASK}"`);
    }
  });
});
