import { describe, expect, it } from 'vitest';
import { fromByteString, toByteString } from '../../src/byte-string.js';
import type { AuditEntry } from '../../src/domain.js';
import { maskEntryByteString } from '../../src/secrets/scan-bytes.js';
import { createSecretPolicy, maskEntryBytes, maskEntryJson, SECRET_MASK } from '../../src/secrets/policy.js';
import { MAY_HOLD_SECRET_VALUE } from '../../src/secrets/value-rules.js';

/** A string value (not a key) ending in a secret word: a name/value list item, which the walkers decide. */
const SECRET_WORD_VALUE = /(?:sswo?r?d|ssphrase|ecret|oken|[ietgn][-_]?key)[ \t]*"(?!\s*:)/i;
import { seededRandom } from '../support/random.js';
import { makeEntry, pick } from './output-fixtures.js';

const policy = createSecretPolicy();
const keys = policy.keys;

/** What the export does: text as a byte string in, masked byte string out, read back as a value. */
function maskedValue(text: string): unknown {
  return JSON.parse(fromByteString(maskEntryBytes(toByteString(text), policy)));
}

describe('maskEntryBytes (scanning the byte string)', () => {
  it('masks the same values as the parse-and-walk path, on random entries written as PostgreSQL or JSON.stringify would', () => {
    const random = seededRandom(4242);
    const names = ['uri', 'key', 'keys', 'cert', 'certs', 'key-auth', 'key_auth', 'csrf', 'Password', 'X-API-KEY', 'nodes', 'plugins', '__proto__', 'token', 'naïve', 'desc'];
    const values = ['v', 3, -1.5e3, null, true, 'password', 'caf\u00e9 \u4e2d\u6587 "quoted" back\\slash', '{"key": 1}', 'emoji \u{1F511}'];
    const tree = (depth: number): unknown => {
      if (depth > 4 || random() < 0.3) return pick(random, values);
      if (random() < 0.25) return [tree(depth + 1), tree(depth + 1)];
      const out: Record<string, unknown> = {};
      for (let i = 0; i < 3; i += 1) Object.defineProperty(out, pick(random, names), { value: tree(depth + 1), enumerable: true, writable: true, configurable: true });
      return out;
    };
    // The server writes jsonb with a space after `:` and `,`; JSON.stringify writes none; a person may indent.
    const write = (entry: AuditEntry) => {
      const compact = JSON.stringify(entry);
      const spacing = pick(random, ['compact', 'jsonb', 'indented']);
      if (spacing === 'indented') return JSON.stringify(entry, null, 2);
      if (spacing === 'compact') return compact;
      const state = (value: unknown) => JSON.stringify(value).replace(/("(?:[^"\\]|\\.)*")|([:,])/g, (_, str: string, punct: string) => str ?? `${punct} `);
      return compact.replace(`"before":${JSON.stringify(entry.before)}`, `"before":${state(entry.before)}`).replace(`"after":${JSON.stringify(entry.after)}`, `"after":${state(entry.after)}`);
    };
    let scanned = 0;
    let asciiKeys = 0;
    for (let round = 0; round < 1500; round += 1) {
      const entry = makeEntry({ resource_type: pick(random, ['route', 'ssl', 'SSLs', 'consumer', null]), resource_name: pick(random, ['r', 'n\u00e4me \u{1F600}', 'q"uote']), before: tree(0), after: tree(0) });
      const text = write(entry);
      expect(maskedValue(text), text).toEqual(JSON.parse(maskEntryJson(text, policy)));
      const byScanner = maskEntryByteString(toByteString(text), keys) !== undefined;
      // A string that may itself be a secret (here '{"key": 1}', JSON in a string) is the walkers' to decide.
      // A value naming a secret (`"password"`, as in a name/value list) is theirs too.
      if (!text.includes('"na\u00efve"') && !MAY_HOLD_SECRET_VALUE.test(text) && !SECRET_WORD_VALUE.test(text)) {
        asciiKeys += 1;
        if (byScanner) scanned += 1;
      }
    }
    // The scanner, not the fallback, read every entry whose keys are ASCII and whose strings are plain.
    expect(asciiKeys).toBeGreaterThan(50);
    expect(scanned).toBe(asciiKeys);
  });

  it('keeps every byte outside the masked values, the server spacing and non-ASCII text included', () => {
    const text = '{"id":"7","timestamp":"t","resource_type":"ssl","resource_name":"caf\u00e9","before":null,"after":{"key": "-----BEGIN \u00e9", "snis": ["\u4e2d.example"], "cert": "C"}}';
    const masked = maskEntryByteString(toByteString(text), keys);
    expect(masked).toBe(toByteString(text.replace('"-----BEGIN \u00e9"', `"${SECRET_MASK}"`)));
  });

  it('decides key and keys when their object closes: a cert after them makes them secret, key-auth and csrf always do', () => {
    const entry = (after: unknown) => JSON.stringify(makeEntry({ resource_type: 'route', before: null, after }));
    expect(maskedValue(entry({ key: 'k', keys: ['a'], cert: 'c' }))).toMatchObject({ after: { key: SECRET_MASK, keys: SECRET_MASK, cert: 'c' } });
    expect(maskedValue(entry({ plugins: { 'limit-count': { key: 'remote_addr' }, 'key-auth': { key: 'ka' }, csrf: { key: 'ck' } } }))).toMatchObject({
      after: { plugins: { 'limit-count': { key: 'remote_addr' }, 'key-auth': { key: SECRET_MASK }, csrf: { key: SECRET_MASK } } },
    });
    // A secret inside a value that turns out to be secret as a whole is masked once, with the whole value.
    expect(maskedValue(entry({ key: { password: 'p', x: 1 }, cert: 'c' }))).toMatchObject({ after: { key: SECRET_MASK } });
    // The root of an SSL resource is an SSL object even without a cert.
    const ssl = JSON.stringify(makeEntry({ resource_type: 'SSL', before: { key: 'k', id: 1 }, after: null }));
    expect(maskedValue(ssl)).toMatchObject({ before: { key: SECRET_MASK, id: 1 } });
  });

  it('returns the same string when a key only looked like a secret', () => {
    const text = toByteString(JSON.stringify(makeEntry({ before: null, after: { plugins: { 'limit-count': { key: 'remote_addr', count: 10 } } } })));
    expect(maskEntryBytes(text, policy)).toBe(text);
  });

  it('leaves escaped and non-ASCII keys, and the Kelvin sign, to the parser, which masks them', () => {
    const escaped = String.raw`{"id":"1","resource_type":"route","before":null,"after":{"pass\u0077ord":"hunter2"}}`;
    const kelvin = '{"id":"1","resource_type":"route","before":null,"after":{"plugins":{"key-auth":{"\u212Aey":"ka-secret"}}}}';
    for (const text of [escaped, kelvin]) {
      expect(maskEntryByteString(toByteString(text), keys)).toBeUndefined();
      expect(fromByteString(maskEntryBytes(toByteString(text), policy))).not.toMatch(/hunter2|ka-secret/);
    }
  });

  it('leaves to the parser an entry whose states come before its resource type, and text that is not an entry', () => {
    const early = '{"before":{"key":"k"},"resource_type":"ssl","after":null}';
    expect(maskEntryByteString(early, keys)).toBeUndefined();
    expect(maskedValue(early)).toEqual({ before: { key: SECRET_MASK }, resource_type: 'ssl', after: null });
    expect(maskEntryByteString('{"resource_type":"route","password":"p"}', keys)).toBeUndefined();
    expect(maskEntryByteString('[1]', keys)).toBeUndefined();
  });

  it('reads from the states on for the entry query\'s head only: a head in another form is read member by member', () => {
    const early = '{"id":"1","after":{"password":"p1"},"resource_type":"ssl","before":{"key":"k1"}}';
    expect(maskedValue(early)).toEqual({ id: '1', after: { password: SECRET_MASK }, resource_type: 'ssl', before: { key: SECRET_MASK } });
    const quoted = '{"id":"1","resource_name":"a,\\"before\\":{","resource_type":"ssl","before":{"key":"k2"},"after":null}';
    expect(maskedValue(quoted)).toEqual({ id: '1', resource_name: 'a,"before":{', resource_type: 'ssl', before: { key: SECRET_MASK }, after: null });
  });

  it('takes the parser for a policy with a non-ASCII name, matching it in any case', () => {
    const german = createSecretPolicy({ keys: ['Pässwort'] });
    const text = toByteString('{"id":"1","resource_type":"route","before":null,"after":{"PÄSSWORT":"geheim"}}');
    expect(fromByteString(maskEntryBytes(text, german))).not.toContain('geheim');
  });
});

describe('maskEntryBytes with fingerprints', () => {
  const keyed = createSecretPolicy({ fingerprintKey: 'operator-key' });

  it('fingerprints on the scanner, with the same fingerprints as the parse-and-walk path', () => {
    const random = seededRandom(77);
    const secrets: unknown[] = ['s3cr\u00e9t \u4e2d', 'p"q\\r', 12.5, { nested: ['a', 1] }, null, ['x', { y: 'z' }]];
    for (let round = 0; round < 200; round += 1) {
      const after = { password: pick(random, secrets), plugins: { 'key-auth': { key: pick(random, secrets) }, 'limit-count': { key: 'remote_addr' } }, note: 'visible' };
      const text = toByteString(JSON.stringify(makeEntry({ resource_type: 'route', before: null, after })));
      // The scanner reads it (no fallback), and it writes what the walkers write.
      expect(maskEntryByteString(text, keyed.keys)).toBeDefined();
      const masked = maskEntryBytes(text, keyed);
      expect(JSON.parse(fromByteString(masked))).toEqual(JSON.parse(maskEntryJson(fromByteString(text), keyed)));
      expect(fromByteString(masked)).toMatch(/"\*{6}\(hmac-sha256:[0-9a-f]{12}\)"/);
    }
  });
});

describe('secret names as values', () => {
  it('masks a name/value list item named by a site-specific secret name on the byte path too', () => {
    const site = createSecretPolicy({ keys: ['partner_signature'] });
    for (const note of ['plain', 'Bearer abcdefgh1234']) {
      const text = JSON.stringify(makeEntry({ resource_type: 'route', before: null, after: { note, env: [{ name: 'PARTNER_SIGNATURE', value: 'S3CRET-site' }] } }));
      expect(fromByteString(maskEntryBytes(toByteString(text), site))).not.toContain('S3CRET-site');
    }
  });
});

describe('header lines in strings', () => {
  const state = (value: string) => JSON.stringify(makeEntry({ resource_type: 'route', before: null, after: { note: value } }));
  const note = (value: string) => (maskedValue(state(value)) as { after: { note: string } }).after.note;

  it('masks a header line without a space after the colon, as clients send a cookie', () => {
    expect(note('Cookie:sid=S1')).toBe(`Cookie:${SECRET_MASK}`);
    expect(note('cookie:S2')).toBe(`cookie:${SECRET_MASK}`);
    expect(note('x-auth-token:S3')).toBe(`x-auth-token:${SECRET_MASK}`);
    expect(note('Accept: json\r\nAuthorization:Bearer S4')).toBe(`Accept: json\r\nAuthorization:${SECRET_MASK}`);
    expect(fromByteString(maskEntryBytes(toByteString(state('Cookie:sid=S5')), policy))).not.toContain('S5');
  });

  it('leaves an operator-style apikey:name alone, and masks an API-key header line written with a space', () => {
    expect(note('apikey:ci-deployer')).toBe('apikey:ci-deployer');
    expect(note('apikey: K1')).toBe(`apikey: ${SECRET_MASK}`);
  });
});
