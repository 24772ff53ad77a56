import { describe, expect, it } from 'vitest';
import { fromByteString, toByteString } from '../../src/byte-string.js';
import type { AuditEntry } from '../../src/domain.js';
import { maskRawText } from '../../src/output/invalid-states.js';
import { createSecretPolicy, maskEntry, maskEntryBytes, maskEntryJson, mayHoldSecret, SECRET_MASK } from '../../src/secrets/policy.js';
import { seededRandom } from '../support/random.js';
import { makeEntry, pick, randomTrees } from './output-fixtures.js';

// Issue 13's last shapes (names run together, digits then `/` in a URL password, a token as a URL's user) on every
// masking path: the object walker, the JSON text (behind its pre-check), the byte string (pre-check, scanner or
// parser) and the raw text of a state that is not JSON. They must agree, and the pre-checks must say "maybe".

const policy = createSecretPolicy();
const replacePolicy = createSecretPolicy({ mode: 'replace', keys: ['password'] });

function allMasks(entry: AuditEntry, using = policy): string[] {
  const text = JSON.stringify(entry);
  return [JSON.stringify(maskEntry(entry, using)), maskEntryJson(text, using), fromByteString(maskEntryBytes(toByteString(text), using))];
}

/** The entry as the server writes jsonb (a space after `:` and `,`), which the byte scanner reads where it stands. */
function jsonbSpacing(entry: AuditEntry): string {
  return JSON.stringify(entry).replace(/("(?:[^"\\]|\\.)*")|([:,])/g, (_, str: string, punct: string) => str ?? `${punct} `);
}

const RUN_TOGETHER = ['dbpassword', 'adminpassword', 'githubtoken', 'webhooksecret', 'csrftoken', 'ROOTPASSWD', 'gpgpassphrase', 'openaiapikey', 'sshprivatekey', 'dbPassWord', 'db.password'];
const READABLE_NAMES = ['max_tokens', 'token_ttl', 'passwordless', 'secret_ref', 'broken', 'spoken', 'total_tokens', 'publickey'];
/** Each secret holds `cnry` (and digits no entry field holds) where it must not show. */
const SECRET_URLS = ['redis://:7531/cnry@host', 'https://user:975319/cnry@host', 'https://u:8080/cnry@db.example/app', 'https://u:p@ss/cnry@host/x',
  'https://bob@corp.example:cnry@jira.example/x', 'https://ghp_cnry@github.com/o/r.git', 'https://0123456789abcdef0123456789cnry01234567@github.com/o/r.git'];
const READABLE_URLS = ['https://git@github.com/org/repo.git', 'https://alice@example.com', 'https://port.example:8443/@me', 'https://reg.example:4873/npm/@scope/pkg',
  'https://deploy-bot@ci.example/x'];

describe('names run together', () => {
  it.each(RUN_TOGETHER)('%s: masked as a key and as a name in a name/value list, on every path', (name) => {
    const entry = makeEntry({ before: null, after: { [name]: 'CNRY-key', env: [{ name, value: 'CNRY-env' }], note: 'visible' } });
    expect(mayHoldSecret(JSON.stringify(entry), policy)).toBe(true);
    for (const masked of [...allMasks(entry), fromByteString(maskEntryBytes(toByteString(jsonbSpacing(entry)), policy))]) {
      expect(masked).not.toContain('CNRY');
      expect(masked).toContain('visible');
    }
  });

  it.each(READABLE_NAMES)('%s stays readable on every path', (name) => {
    const entry = makeEntry({ before: null, after: { [name]: 'visible-value', env: [{ name, value: 'visible-env' }] } });
    for (const masked of allMasks(entry)) expect(JSON.parse(masked)).toEqual(JSON.parse(JSON.stringify(entry)));
  });

  it.each(['password\u00a0', 'dbpassword\u3000', 'DB_PASSWORD\t', 'githubtoken\n', 'Authorization\u2003'])('%j, ending in a space that trim() removes, on every path', (name) => {
    // The walkers read the name trimmed; the pre-checks must let it through (an escape, a non-ASCII space).
    const entry = makeEntry({ before: null, after: { [name]: 'CNRY-key', env: [{ name, value: 'CNRY-env' }], note: 'visible' } });
    expect(mayHoldSecret(JSON.stringify(entry), policy)).toBe(true);
    for (const masked of [...allMasks(entry), fromByteString(maskEntryBytes(toByteString(jsonbSpacing(entry)), policy))]) {
      expect(masked).not.toContain('CNRY');
      expect(masked).toContain('visible');
    }
  });

  it('with mode: replace, only the words the list holds count: [password] masks dbpassword, not githubtoken', () => {
    const entry = makeEntry({ before: null, after: { dbpassword: 'CNRY-pw', githubtoken: 'visible-token' } });
    for (const masked of allMasks(entry, replacePolicy)) {
      expect(masked).not.toContain('CNRY');
      expect(masked).toContain('visible-token');
    }
  });

  it('in the raw text of a state that is not JSON', () => {
    expect(maskRawText('{"dbpassword": "CNRY-1", "webhooksecret": "CNRY-2", "max_tokens": 5, oops', policy)).toBe(`{"dbpassword": "${SECRET_MASK}", "webhooksecret": "${SECRET_MASK}", "max_tokens": 5, oops`);
  });
});

describe('URL passwords and token users', () => {
  it.each(SECRET_URLS)('%s: its secret is masked on every path, as a value and inside JSON held in a string', (url) => {
    const entry = makeEntry({ before: null, after: { endpoint: url, nested: JSON.stringify({ url }), note: 'visible' } });
    expect(mayHoldSecret(JSON.stringify(entry), policy)).toBe(true);
    for (const masked of [...allMasks(entry), fromByteString(maskEntryBytes(toByteString(jsonbSpacing(entry)), policy))]) {
      expect(masked).not.toMatch(/cnry|7531|975319|8080/);
      expect(masked).toContain(SECRET_MASK);
      expect(masked).toContain('visible');
    }
    expect(maskRawText(`{"endpoint": "${url}", oops`, policy)).toContain(SECRET_MASK);
  });

  it.each(READABLE_URLS)('%s stays readable on every path', (url) => {
    const entry = makeEntry({ before: null, after: { endpoint: url } });
    for (const masked of allMasks(entry)) expect(JSON.parse(masked)).toEqual(JSON.parse(JSON.stringify(entry)));
  });
});

describe('the paths agree on random entries mixing these shapes with plain ones', () => {
  it('walker, JSON text and byte string give the same values; what the walker masks, the pre-checks let through', () => {
    const random = seededRandom(1313_13);
    const names = ['uri', 'name', 'value', 'env', 'plugins', 'note', ...RUN_TOGETHER, ...READABLE_NAMES];
    const values = ['v', 2, null, 'plain text', ...RUN_TOGETHER, ...READABLE_NAMES, ...SECRET_URLS, ...READABLE_URLS];
    const tree = randomTrees(random, names, values);
    let masked = 0;
    for (let round = 0; round < 1500; round += 1) {
      const entry = makeEntry({ before: tree(), after: tree() });
      const [walked, json, bytes] = allMasks(entry).map((text) => JSON.parse(text) as unknown);
      expect(json).toEqual(walked);
      expect(bytes).toEqual(walked);
      expect(JSON.parse(fromByteString(maskEntryBytes(toByteString(jsonbSpacing(entry)), policy)))).toEqual(walked);
      if (JSON.stringify(walked) !== JSON.stringify(entry)) masked += 1;
    }
    expect(masked).toBeGreaterThan(500);
  });
});

describe('random URL-like strings', () => {
  it('walker, JSON text and byte string agree on strings built from the pieces URLs are made of', () => {
    const random = seededRandom(2_0_2_6);
    const pieces = ['https://', 'redis://', '://', 'u', 'ghp_', 'ghp_S3cr3t', ':', '@', '/', '?', '#', '8443', '1', 'host.example', ' ', '\t', 'x', 'a@b', 'é', '0123456789abcdefghij'];
    let masked = 0;
    for (let round = 0; round < 3000; round += 1) {
      const text = Array.from({ length: 2 + Math.floor(random() * 10) }, () => pick(random, pieces)).join('');
      const entry = makeEntry({ before: null, after: { note: text } });
      const [walked, json, bytes] = allMasks(entry);
      expect(json, text).toBe(walked);
      expect(bytes, text).toBe(walked);
      if (walked !== JSON.stringify(entry)) masked += 1;
    }
    expect(masked).toBeGreaterThan(100);
  });
});

describe('APISIX vars expressions', () => {
  // lua-resty-expr: `[variable, operator, value]` or `[variable, "!", operator, value]`, operators in any case.
  const EXPRESSIONS = [['cookie_session', '==', 'CNRY-1'], ['http_x_api_key', '!', '==', 'CNRY-2'], ['arg_access_token', 'IN', ['CNRY-3', 'CNRY-4']],
    ['http_authorization', '~~', 'Basic CNRY-5'], ['cookie_sid', 'has', 'CNRY-6']];
  it.each(EXPRESSIONS.map((expression) => [JSON.stringify(expression), expression]))('%s: the compared value is masked on every path', (_, expression) => {
    const entry = makeEntry({ before: null, after: { vars: [expression], note: 'visible' } });
    for (const masked of [...allMasks(entry), fromByteString(maskEntryBytes(toByteString(jsonbSpacing(entry)), policy))]) {
      expect(masked).not.toContain('CNRY');
      expect(masked).toContain('visible');
    }
  });

  // A plugin listing the cookies it reads or strips is not an expression: no operator in second place.
  it.each([[['cookie_a', 'cookie_b', 'cookie_c']], [['http_authorization', 'http_x_api_key', 'http_cookie']], [['cookie_session', 'note', 'visible-3']]])('%j: names, not credentials, stay readable', (list) => {
    const entry = makeEntry({ before: null, after: { hide_cookies: list } });
    for (const masked of allMasks(entry)) expect(masked).toContain(JSON.stringify(list));
  });
});
