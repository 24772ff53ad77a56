import { describe, expect, it } from 'vitest';
import { fromByteString, toByteString } from '../../src/byte-string.js';
import type { AuditEntry } from '../../src/domain.js';
import { createSecretPolicy, maskEntry, maskEntryBytes, maskEntryJson, mayHoldSecret, type SecretPolicy } from '../../src/secrets/policy.js';
import { seededRandom } from '../support/random.js';
import { makeEntry, pick } from './output-fixtures.js';

// An attacker's inputs for the masking fast path (row-hints.ts, mask-hits.ts, then scan-bytes.ts): every path must
// give what the object walker (maskEntry) gives, and no value it masks may survive. `CNRY` marks what must be masked.

const POLICIES: readonly (readonly [string, SecretPolicy])[] = [
  ['default', createSecretPolicy()],
  ['fingerprints', createSecretPolicy({ fingerprintKey: 'k' })],
  ['site names', createSecretPolicy({ keys: ['partnerSignature', 'X-Sig', 'db.pass', 'my secret'] })],
  ['replace', createSecretPolicy({ mode: 'replace', keys: ['api-key'] })],
];
const DEFAULT = createSecretPolicy();
const FINGERPRINTS = createSecretPolicy({ fingerprintKey: 'k' });

/** The text as PostgreSQL writes jsonb: a space after every structural `:` and `,`. */
function jsonbSpacing(compact: string): string {
  return compact.replace(/("(?:[^"\\]|\\.)*")|([:,])/g, (_, str: string | undefined, punct: string) => str ?? `${punct} `);
}

/** The text as the export's entry query writes it: a compact head, each state as jsonb prints it. */
function serverForm(entry: AuditEntry): string {
  let text = JSON.stringify(entry);
  for (const state of ['before', 'after'] as const) {
    if (entry[state] !== undefined) text = text.replace(`"${state}":${JSON.stringify(entry[state])}`, `"${state}":${jsonbSpacing(JSON.stringify(entry[state]))}`);
  }
  return text;
}

interface Paths {
  walked: string;
  /** Each path that gives another value than the walker, with what it gives; `mayHoldSecret` when it cleared a row the walker masks. */
  differ: Record<string, string>;
}

/** Every masking path of one entry against the walker, each read back as canonical JSON text. */
function paths(entry: AuditEntry, policy: SecretPolicy): Paths {
  const compact = JSON.stringify(entry);
  const walked = JSON.stringify(maskEntry(entry, policy));
  const others: Record<string, string> = {
    maskEntryJson: JSON.stringify(JSON.parse(maskEntryJson(compact, policy))),
    maskEntryJsonJsonb: JSON.stringify(JSON.parse(maskEntryJson(jsonbSpacing(compact), policy))),
    bytes: JSON.stringify(JSON.parse(fromByteString(maskEntryBytes(toByteString(compact), policy)))),
    bytesJsonb: JSON.stringify(JSON.parse(fromByteString(maskEntryBytes(toByteString(jsonbSpacing(compact)), policy)))),
    bytesServer: JSON.stringify(JSON.parse(fromByteString(maskEntryBytes(toByteString(serverForm(entry)), policy)))),
  };
  const differ: Record<string, string> = {};
  for (const [name, text] of Object.entries(others)) if (text !== walked) differ[name] = text;
  if (walked !== JSON.stringify(JSON.parse(compact)) && !mayHoldSecret(compact, policy)) differ.mayHoldSecret = 'false';
  return { walked, differ };
}

/** A failure message of a readable length. */
function short(text: string): string {
  return text.length > 600 ? `${text.slice(0, 300)}...${text.slice(-300)}` : text;
}

/** Asserts every path agrees with the walker; with `canary`, that the walker masked it too. */
function expectAgreement(entry: AuditEntry, policy: SecretPolicy, canary = false): void {
  const { walked, differ } = paths(entry, policy);
  expect(differ, `${short(JSON.stringify(entry))}\nwalker: ${short(walked)}`).toEqual({});
  if (canary) expect(walked).not.toContain('CNRY');
}

const route = (after: unknown, type: string | null = 'route') => makeEntry({ resource_type: type, before: null, after });

/** An entry whose `after` comes before its `before`, as an object built in another order would be written. */
function afterThenBefore(after: unknown, before: unknown): AuditEntry {
  const head = Object.entries(makeEntry({ after })).filter(([field]) => field !== 'before');
  return { ...(Object.fromEntries(head) as Omit<AuditEntry, 'before'>), before };
}

function nested(levels: number, leaf: unknown, array = false): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i += 1) value = array ? [value] : { a: value };
  return value;
}

describe('explicit attacks: every path gives the walker\'s result', () => {
  // [what, resource type, state, whether CNRY must be masked under the default names]
  const cases: readonly (readonly [string, string | null, unknown, boolean])[] = [
    ['escaped name (\\u in JSON)', 'route', { 'pass\u0000word': 'v', 'password\u000b': 'CNRY' }, true],
    ['quote, backslash and slash in keys', 'route', { 'key"': 'v', 'key\\': 'v', '"key': 'v', 'key/': 'v', 'a/password': 'CNRY' }, true],
    ['non-ASCII space after a name', 'route', { 'password\u00a0': 'CNRY', 'token\u3000': 'CNRY', 'secret\ufeff': 'CNRY', 'password\u2028': 'CNRY' }, true],
    ['non-ASCII space before a name', 'route', { '\u00a0password': 'CNRY', '\u2003api_key': 'CNRY' }, true],
    ['names in other cases, with - or _, camelCase', 'route', { PASSWORD: 'CNRY', 'X_API-KEY': 'CNRY', dbPassword: 'CNRY', clientRSAPrivateKey: 'CNRY', apiKEY: 'CNRY' }, true],
    ['readable names ending close to a secret word', 'route', { max_tokens: 1, token_ttl: 2, passwordless: true, secret_ref: 'vault', public_key: 'pk', monkey: 'm', 'PRIVATE KEY': 'v' }, false],
    ['the Kelvin sign spelling key', 'route', { plugins: { 'key-auth': { '\u212Aey': 'CNRY' } } }, true],
    ['the Kelvin sign in a parent name', 'route', { plugins: { '\u212Aey-auth': { key: 'CNRY' } } }, true],
    ['the Kelvin sign in a value beside a contextual key', 'route', { note: '\u212A', key: 'remote_addr' }, false],
    ['the Kelvin sign in the resource type', '\u212Assl', { key: 'visible' }, false],
    ['long s is not s', 'route', { 'pa\u017Fsword': 'visible' }, false],
    ['lone surrogates', 'route', { password: '\ud800', key: '\udc00', ['pass\ud800']: 'v', ['\ud800password']: 'CNRY' }, true],
    ['empty key', 'route', { '': 'x', key: 'remote_addr' }, false],
    ['__proto__ keys', 'route', JSON.parse('{"__proto__": {"password": "CNRY", "key": "v"}, "plugins": {"__proto__": {"key": "v"}}}') as unknown, true],
    ['key-auth key after siblings holding } " { in strings', 'route', { plugins: { 'key-auth': { a: '}"{', b: ['{', { c: '"' }], n: 1e21, key: 'CNRY' } } }, true],
    ['limit-count key after siblings holding } " {', 'route', { plugins: { 'limit-count': { a: { b: [1, { c: '}"{' }] }, n: -1.5e3, t: true, key: 'remote_addr' } } }, false],
    ['key under objects named before, after, config', 'route', { before: { key: 'v1' }, after: { key: 'v2' }, config: { key: 'v3' } }, false],
    ['key under config of a plugin that declares none', 'route', { plugins: { 'limit-count': { config: { key: 'remote_addr' } } } }, false],
    ['key-auth key in an array item', 'consumer', { plugins: { 'key-auth': [{ key: 'CNRY' }] }, 'key-auth': [{ key: 'CNRY' }] }, true],
    ['plugins as a list, name after config', 'route', { plugins: [{ config: { key: 'CNRY' }, name: 'key-auth' }] }, true],
    ['plugins as a list, conf, name in another case', 'route', { plugins: [{ name: 'Key-Auth', conf: { key: 'CNRY' } }] }, true],
    ['plugins as a list of several', 'route', { plugins: [{ name: 'limit-count', config: { key: 'remote_addr' } }, { name: 'jwe-decrypt', config: { key: 'CNRY' } }] }, true],
    ['ai-proxy auth.header and instances', 'route', { plugins: { 'ai-proxy': { auth: { header: { 'X-Custom': 'CNRY' } }, instances: [{ auth: { query: { k: 'CNRY' } } }] } } }, true],
    ['ai-proxy in upper case', 'route', { plugins: { 'AI-PROXY': { auth: { header: { 'X-Custom': 'CNRY' } } } } }, true],
    ['aws-lambda accesskey', 'route', { plugins: { 'aws-lambda': { authorization: { iam: { accesskey: 'CNRY' } } } } }, true],
    ['header and query outside their plugins', 'route', { auth: { header: 'x', query: 'q' }, headers: { a: 'b' } }, false],
    ['cert in a sibling array item', 'route', { tls: [{ cert: 'c' }, { key: 'visible' }] }, false],
    ['cert nested deeper than key', 'route', { tls: { key: 'visible', inner: { cert: 'c' } } }, false],
    ['cert in the parent of key', 'route', { cert: 'c', child: { key: 'visible' } }, false],
    ['key beside Cert and CERTS', 'route', { a: { Cert: 'c', key: 'CNRY' }, b: { CERTS: ['c'], keys: ['CNRY'] } }, true],
    ['nested key of an SSL resource', 'ssl', { a: { key: 'visible' } }, false],
    ['keys at the root of an SSL resource, spelled ssls', 'ssls', { keys: ['CNRY'] }, true],
    ['root key of an SSL resource, spelled CERTIFICATE', 'CERTIFICATE', { key: 'CNRY' }, true],
    ['a string holding "key": lookalikes', 'route', { note: '"key": "v", "password": "p"', key: 'remote_addr' }, false],
    ['JSON in a string in key-auth', 'route', { plugins: { 'key-auth': { note: '{"key": "x"}', key: 'CNRY' } } }, true],
    ['JSON in JSON in a string', 'route', { note: JSON.stringify({ inner: JSON.stringify({ password: 'CNRY' }) }) }, true],
    ['JSON with an SSL object in a string', 'route', { note: ' {"cert": "c", "key": "CNRY"}' }, true],
    ['header pairs', 'route', { headers: [['Authorization', 'CNRY']], h2: ['x-api-key', 'CNRY'] }, true],
    ['name/value header lists', 'route', { env: [{ name: 'X-Api-Key', value: 'CNRY' }, { key: 'Cookie', values: ['CNRY'] }, { header_name: 'DB_PASSWORD', header_value: 'CNRY' }] }, true],
    ['Bearer after a header name', 'route', { note: 'Authorization: Bearer CNRY12345678' }, true],
    ['bearer and a tab', 'route', { note: 'use bearer\tCNRY12345678 now' }, true],
    ['URL passwords', 'route', { note: 'see postgres://user:CNRY@db:5432/x and https://h', n2: 'redis://:CNRY@cache:6379' }, true],
    ['URL with a token as its user', 'route', { note: 'git clone https://ghp_CNRYabcdefghijklmnopqrst@github.com/x' }, true],
    ['PEM block', 'route', { note: 'x -----BEGIN EC PRIVATE KEY-----\nCNRY\n-----END EC PRIVATE KEY-----' }, true],
    ['JWT', 'route', { note: 'token eyJhbGciOiJIUzI1NiJ9.eyJDTlJZIjoxfQ.CNRYsig' }, true],
    ['connection-string assignment', 'route', { note: 'dsn: host=db;Password=CNRY;' }, true],
    ['header lines', 'route', { note: 'Accept: json\r\nCookie:sid=CNRY', n2: 'x-auth-token:CNRY' }, true],
    ['a very long name', 'route', { ['x'.repeat(5000) + 'password']: 'CNRY' }, true],
    ['very long values', 'route', { password: `CNRY${'x'.repeat(100_000)}`, note: 'y'.repeat(50_000) }, true],
    ['a secret value holding objects, arrays, numbers, null', 'route', { password: { a: [1, 'CNRY'] }, token: 123456789, secret: null, api_key: [true] }, true],
  ];

  it.each(cases)('%s', (_, type, state, masks) => {
    for (const [, policy] of POLICIES) expectAgreement(route(state, type), policy);
    for (const policy of [DEFAULT, FINGERPRINTS]) expectAgreement(route(state, type), policy, masks);
  });

  it('fingerprints of numbers, -0, non-ASCII text and __proto__ are the walker\'s', () => {
    expectAgreement(route({ password: 1e21, token: -0, secret: 0.1 }), FINGERPRINTS, true);
    expectAgreement(route({ password: '\u{1F511}caf\u00e9', plugins: { 'key-auth': { key: '\u00e9' } } }), FINGERPRINTS);
    expectAgreement(route(JSON.parse('{"password": {"__proto__": {"a": 1}}}') as unknown), FINGERPRINTS);
  });

  it('site names: camelCase, spaces, dots, non-ASCII, names of APISIX fields, mode replace', () => {
    expectAgreement(route({ partnerSignature: 'CNRY', PARTNER_SIGNATURE: 'CNRY', env: [{ name: 'partner-signature', value: 'CNRY' }] }), createSecretPolicy({ keys: ['partnerSignature'] }), true);
    expectAgreement(route({ 'my secret': 'CNRY', note: 'x' }), createSecretPolicy({ keys: ['my secret'] }), true);
    expectAgreement(route({ 'db.pass': 'CNRY' }), createSecretPolicy({ keys: ['db.pass'] }), true);
    expectAgreement(route({ 'P\u00c4SSWORT': 'CNRY', key: 'remote_addr' }), createSecretPolicy({ keys: ['P\u00e4sswort'] }), true);
    // A site name is a key's name only: `X-Sig=` in a string is no assignment the text rules know (both paths agree).
    expectAgreement(route({ note: 'a?X-Sig=visible', x_sig: 'CNRY' }), createSecretPolicy({ keys: ['X-Sig'] }), true);
    expectAgreement(route({ key: 'CNRY' }), createSecretPolicy({ keys: ['key'] }), true);
    expectAgreement(route({ 'private key': 'CNRY' }), createSecretPolicy({ keys: ['private key'] }), true);
    expectAgreement(route({ env: [{ name: 'name', value: 'CNRY' }] }), createSecretPolicy({ keys: ['name'] }), true);
    const replace = createSecretPolicy({ mode: 'replace', keys: [] });
    expectAgreement(route({ plugins: { 'key-auth': { key: 'CNRY' }, 'basic-auth': { password: 'CNRY' } }, password: 'visible' }), replace, true);
    expectAgreement(route({ plugins: { 'kafka-logger': { brokers: [{ 'sasl_config ': { password: 'CNRY' } }] } } }), replace, true);
    expectAgreement(route({ cert: 'c', key: 'CNRY' }), replace, true);
  });
});

describe('nesting near the scanner\'s limit (64) and the walkers\' (200)', () => {
  const leaves: readonly (readonly [string, unknown, boolean])[] = [
    ['a password', { password: 'CNRY' }, true],
    ['a key-auth key', { 'key-auth': { key: 'CNRY' } }, true],
    ['a plain value', 'x', false],
  ];
  it.each([62, 63, 64, 65, 66, 197, 198, 199])('%i levels', (levels) => {
    for (const [, leaf, masks] of leaves) {
      for (const array of [false, true]) expectAgreement(route(nested(levels, leaf, array)), DEFAULT, masks);
    }
    // At 199 levels limit-count's key is past the walkers' depth: a known disagreement (skipped below).
    if (levels < 199) expectAgreement(route(nested(levels, { 'limit-count': { key: 'remote_addr' } })), DEFAULT);
  });

  it('past the walkers\' depth: a row with a secret is masked whole past it on every path', () => {
    for (const levels of [200, 201, 260]) expectAgreement(route(nested(levels, { password: 'CNRY' })), DEFAULT, true);
  });

  it('JSON in a string counts toward the depth', () => {
    expectAgreement(route({ note: JSON.stringify(nested(199, { a: 1 })) }), DEFAULT);
    expectAgreement(route({ password: 'p', note: JSON.stringify(nested(150, { b: 1 })), deep: nested(60, 'x') }), DEFAULT);
  });
});

describe('seeded random entries built from hostile names and values', () => {
  // Rows deeper than 200 are left out: past that depth the byte path and the walkers differ by decision (below).
  const cold = ['uri', 'name', 'value', 'key', 'keys', 'cert', 'certs', 'plugins', 'key-auth', 'limit-count', 'headers', 'header', 'query', 'csrf', 'config', 'conf',
    'elasticsearch-logger', 'loki-logger', 'graphql-limit-count', 'introspection_headers', 'ai-proxy', 'auth', 'instances', 'jwe-decrypt', 'aws-lambda', 'authorization', 'iam',
    'accesskey', 'before', 'after', 'id', 'password', 'token', 'tls', 'nodes', 'desc', 'a', 'b'];
  const hot = ['Cert', 'Plugins', 'Key-Auth', 'key_auth', 'pass\u0077ord', 'to\u212Aen', '\u212Aey', 'dbPassword', 'x-api-key', 'clientSecret', 'apiKEY', 'max_tokens', 'passwordless', '__proto__',
    '', 'na\u00efve', 'a"b', 'a\\b', 'PRIVATE KEY', 'introspectionHeaders', 'header_name', 'header_value', 'values', 'env', 'partnerSignature', 'X_SIG', 'password\u00a0', 'api-key', 'Key-Auth ', 'plugins\u00a0', 'cert\t', 'csrf\u3000'];
  const plain: unknown[] = ['v', 3, null, true, 'plain', 'remote_addr', 'x', 'ssl', 'key-auth', -1.5e3, ''];
  const hostile: unknown[] = ['Bearer abcdefgh12', 'https://u:pw1@h', 'https://ghp_abcdefghijklmnop1234@github.com', 'DB_PASSWORD', 'Authorization', 'cookie', 'tokens',
    '{"secret": 1}', ' [{"key":"k"}]', '{"cert":"c","key":"k"}', 'x=1', 'a&token=z', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig', '-----BEGIN RSA PRIVATE KEY-----\nA\n-----END RSA PRIVATE KEY-----',
    'Cookie:sid=1', '"key": "v"', '}"{', '\\', '\u212A', 'caf\u00e9 \u4e2d', 'SSLs', 'a\u2028b', '\u{1F511}', 'host=db password=x dbname=y', 'PARTNER_SIGNATURE'];

  it('every path agrees with the walker (bounded: 4,000 entries or 15 s of CPU)', () => {
    const random = seededRandom(2026_12_03_19);
    const tree = (depth: number, heat: number): unknown => {
      if (depth > 5 || random() < 0.3) return random() < heat ? pick(random, hostile) : pick(random, plain);
      if (random() < 0.2) return Array.from({ length: 1 + Math.floor(random() * 3) }, () => tree(depth + 1, heat));
      const out: Record<string, unknown> = {};
      const members = 1 + Math.floor(random() * 4);
      for (let i = 0; i < members; i += 1) {
        // defineProperty: `__proto__` stays a key.
        Object.defineProperty(out, random() < heat ? pick(random, hot) : pick(random, cold), { value: tree(depth + 1, heat), enumerable: true, writable: true, configurable: true });
      }
      return out;
    };
    const started = process.cpuUsage();
    let rows = 0;
    let masked = 0;
    let unchanged = 0;
    for (; rows < 4000; rows += 1) {
      const used = process.cpuUsage(started);
      if (used.user + used.system > 15_000_000) break;
      // Mostly cold rows, so that most reach the one-scan pre-check's fast ways rather than the walkers.
      const heat = pick(random, [0.01, 0.03, 0.2]);
      const policy = (pick(random, POLICIES) as readonly [string, SecretPolicy])[1];
      const list = random() < 0.1;
      const state = (): unknown => (list ? { plugins: [{ name: pick(random, ['key-auth', 'jwe-decrypt', 'elasticsearch-logger', 'ai-proxy', 'limit-count']), config: tree(1, heat) }] } : tree(0, heat));
      const entry = makeEntry({ resource_type: pick(random, ['route', 'ssl', 'SSLs', 'consumer', 'certificate', 'Certificates', null, 'ssl ', ' Certificates', 'SSL\u00a0']), before: random() < 0.3 ? null : random() < 0.05 ? undefined : state(), after: state() });
      const { walked, differ } = paths(entry, policy);
      expect(differ, `${JSON.stringify(entry)}\nwalker: ${walked}`).toEqual({});
      if (walked === JSON.stringify(entry)) unchanged += 1;
      else masked += 1;
    }
    expect(rows).toBeGreaterThan(500);
    expect(masked).toBeGreaterThan(rows / 5);
    expect(unchanged).toBeGreaterThan(rows / 20);
  });
});

// Found by this file on the first fast path, each fixed since: names the context pattern missed when spaces pad them
// (a resource type, a plugin, plugins), a site's names cert, certs, `pwd_`, `-`, names JSON escapes (`a"b`) and the
// entry's own fields, an entry without `before` whose state holds a compact `,"before":`.
describe('disagreements found and fixed', () => {
  const site = (keys: string[]) => createSecretPolicy({ keys });
  const known: readonly (readonly [string, AuditEntry, SecretPolicy])[] = [
    ['an SSL resource type with a space: root key leaks', route({ id: 'x', key: 'CNRY' }, 'ssl '), DEFAULT],
    ['an SSL resource type with a tab', route({ id: 'x', key: 'CNRY' }, 'SSL\t'), DEFAULT],
    ['an SSL resource type with a newline', route({ key: 'CNRY' }, 'ssl\n'), DEFAULT],
    ['an SSL resource type with a no-break space', route({ keys: ['CNRY'] }, 'SSL\u00a0'), DEFAULT],
    ['an SSL resource type with a BOM', route({ key: 'CNRY' }, '\ufeffssl'), DEFAULT],
    ['a certificate resource type with spaces', route({ key: 'CNRY' }, ' Certificates'), FINGERPRINTS],
    ['elasticsearch-logger with a trailing space', route({ plugins: { 'elasticsearch-logger ': { headers: { X: 'CNRY' } } } }), DEFAULT],
    ['jwe-decrypt with a trailing space', route({ plugins: { 'jwe-decrypt ': { key: 'CNRY' } } }), DEFAULT],
    ['ai-proxy with a trailing space', route({ plugins: { 'ai-proxy ': { auth: { header: { 'X-Custom': 'CNRY' } } } } }), DEFAULT],
    ['graphql-limit-count with a trailing space', route({ plugins: { 'graphql-limit-count ': { introspection_headers: { a: 'CNRY' } } } }), DEFAULT],
    ['basic-auth with a trailing space, mode replace', route({ plugins: { 'basic-auth ': { password: 'CNRY' } } }), createSecretPolicy({ mode: 'replace', keys: [] })],
    ['plugins with a trailing space, as a list', route({ 'plugins ': [{ name: 'key-auth', config: { key: 'CNRY' } }] }), DEFAULT],
    ['plugins with a no-break space, as a list', route({ 'plugins\u00a0': [{ name: 'jwe-decrypt', config: { key: 'CNRY' } }] }), DEFAULT],
    ['key-auth with a trailing space over an array', route({ 'key-auth ': [{ key: 'CNRY' }] }), DEFAULT],
    ['key-auth with a no-break space', route({ 'key-auth\u00a0': { key: 'CNRY' } }), DEFAULT],
    ['key-auth with a line separator', route({ 'key-auth\u2028': { key: 'CNRY' } }), DEFAULT],
    ['key-auth with a tab', route({ 'key-auth\t': { key: 'CNRY' } }), DEFAULT],
    ['csrf with a tab', route({ 'csrf\t': { key: 'CNRY' } }), DEFAULT],
    ['key-auth with a space and 70 members before key', route({ plugins: { 'key-auth ': Object.fromEntries([...Array.from({ length: 70 }, (_, i) => [`f${i}`, i]), ['key', 'CNRY']]) } }), DEFAULT],
    ['site name cert: key beside it leaks on the byte path', route({ tls: { cert: 'c', key: 'CNRY' } }), site(['cert'])],
    ['site name certs: keys beside it leak on the byte path', route({ tls: { certs: ['c'], keys: ['CNRY'] } }), site(['certs'])],
    ['site name ending in _', route({ pwd_: 'CNRY' }), site(['pwd_'])],
    ['site name ending in -', route({ 'api-': 'CNRY' }), site(['api-'])],
    ['site name before: the whole before state is masked on the byte path', makeEntry({ before: { a: 1 }, after: { before: 'CNRY' } }), site(['before'])],
    ['site name after', route({ a: 1 }), site(['after'])],
    ['site name operator: the head is masked in jsonb spacing', route({ operator: 'CNRY' }), site(['operator'])],
    ['site name id', route({ id: 'CNRY' }), site(['id'])],
    ['site name resource_type', route({ x: 1 }), site(['resource_type'])],
    ['site name with a quote', route({ 'a"b': 'CNRY', x: 'visible' }), site(['a"b'])],
    ['site name with a backslash', route({ 'a\\b': 'CNRY' }), site(['a\\b'])],
    ['site name ending in a quote', route({ 'a"': 'CNRY' }), site(['a"'])],
    ['site name of a dash alone', route({ '-': 'CNRY', _: 'CNRY', ' - ': 'CNRY', x: 'visible' }), site(['-'])],
    ['an entry without before', makeEntry({ before: undefined, after: { password: 'CNRY', before: {} } }), DEFAULT],
    ['an entry with after before before', afterThenBefore({ password: 'CNRY' }, { x: 1 }), DEFAULT],
  ];
  it.each(known)('%s', (_, entry, policy) => expectAgreement(entry, policy));
});

// A decision, not a disagreement: the walkers mask what lies past 200 levels because they recurse; the JSON-text paths
// (export, list -o json|ndjson, prune --archive) do not recurse, so a row in which nothing can be a secret goes out as
// it is, however deep (a row with a hint goes to the walkers past 64 levels, the scanner's limit).
describe('past the walkers\' depth', () => {
  it.each([
    ['without a hint', route({ deep: nested(205, 'deep') })],
    ['with only a contextual key the row cannot make secret', route(nested(199, { 'limit-count': { key: 'remote_addr' } }))],
  ] as const)('%s: the byte path leaves the row as it is; the walkers mask past 200 levels', (_, entry) => {
    const compact = JSON.stringify(entry);
    expect(fromByteString(maskEntryBytes(toByteString(compact), DEFAULT))).toBe(compact);
    expect(maskEntryJson(compact, DEFAULT)).toBe(compact);
    expect(JSON.stringify(maskEntry(entry, DEFAULT))).toContain('******');
  });
});
