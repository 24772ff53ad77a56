import { describe, expect, it } from 'vitest';
import { fromByteString, toByteString } from '../../src/byte-string.js';
import type { AuditEntry } from '../../src/domain.js';
import { createSecretPolicy, maskEntry, maskEntryBytes, maskEntryJson, type SecretPolicy } from '../../src/secrets/policy.js';
import { seededRandom } from '../support/random.js';
import { makeEntry } from './output-fixtures.js';

// The walkers mask JSON members inside strings and header lines inside a line (src/secrets/json-fragments.ts,
// value-rules.ts); list -o json, history and export first ask row-hints.ts whether a row may hold a secret, and the
// byte scanner whether a string may (value-rules.ts IN_STRING). Both must stay supersets of these rules: on random
// strings built from fragments at 0-2 levels of escaping, header lines and look-alikes, every path gives the walkers'
// result. (Basic credentials in free text are left out until row-hints.ts has a `basic ` hint.)

const NAMES = ['password', 'Password ', 'token', 'key', 'keys', 'headers', 'x', 'max_tokens', 'Authorization', 'set-cookie', 'clientSecret',
  'pass\\u0077ord', '\u212Aey', 'api_key', 'note', 'secrets', 'cert', 'partnerSignature', 'query', 'DB_PASSWORD', 'access\\ttoken', 'password\\n',
  'key\\u0020', 'pass\\/word', 'token\\\\'];
const VALUES = ['"CNRY"', '12', '{"a":"CNRY"}', '["CNRY"]', 'true', '"https://u:CNRY@h"', '"Basic authentication"', 'null', '"unterminated CNRY'];
const GLUE = ['\\n', '\\\\', '', ' ', 'prefix ', 'x\n', '日本', 'é', '(', '"', "'", ',', ';', '\t', '\\n', '#', '?', '&', '=', '\u2028'];
const HEADERS = ['Authorization: Bearer CNRY1234', 'Cookie: sid=CNRY', 'Set-Cookie: a=CNRY', 'X-API-Key: CNRY1', 'apikey: CNRY', 'token=CNRY',
  '#access_token=CNRY', 'no Authorization: here', 'curl -H "Authorization: CNRY" -H \'Cookie: CNRY\'', 'password: CNRY', '  - db_password:\tCNRY', 'max_tokens: 100',
  'token_ttl: 60', '{user: app, password: CNRY}', '{api_key:CNRY}'];

function fragmentString(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  let text = '';
  for (let i = 1 + Math.floor(random() * 4); i > 0; i -= 1) {
    const roll = random();
    if (roll < 0.5) text += `${pick(GLUE)}{"${pick(NAMES)}"${pick(['', ' ', '\n'])}:${pick(['', ' '])}${pick(VALUES)}${pick(['}', ', "b": 1}', ''])}`;
    else if (roll < 0.8) text += pick(GLUE) + pick(HEADERS);
    else text += `${pick(GLUE)}"${pick(NAMES)}": ${pick(VALUES)}`;
  }
  // Escaped once or twice more, with or without the quotes of the string it was.
  for (let level = Math.floor(random() * 3); level > 0; level -= 1) text = JSON.stringify(text).slice(random() < 0.5 ? 1 : 0, -1);
  return text;
}

function randomEntry(random: () => number, id: number): AuditEntry {
  const after: Record<string, unknown> = { uri: '/visible' };
  for (let i = 1 + Math.floor(random() * 3); i > 0; i -= 1) after[`note${i}`] = random() < 0.7 ? fragmentString(random) : [fragmentString(random)];
  return makeEntry({ id: String(id), resource_type: random() < 0.8 ? 'route' : 'ssl', before: null, after });
}

/** Each path's result, parsed back: the entry's text as the export query writes it, and as jsonb spaces it. */
function paths(entry: AuditEntry, policy: SecretPolicy): Map<string, unknown> {
  const compact = JSON.stringify(entry);
  const jsonb = compact.replace(/("(?:[^"\\]|\\.)*")|([:,])/g, (_, str: string, punct: string) => str ?? `${punct} `);
  const out = new Map<string, unknown>();
  for (const [form, text] of [['compact', compact], ['jsonb', jsonb]] as const) {
    out.set(`bytes ${form}`, JSON.parse(fromByteString(maskEntryBytes(toByteString(text), policy))));
    out.set(`json ${form}`, JSON.parse(maskEntryJson(text, policy)));
  }
  return out;
}

/** Each path gives the walkers' result on 3,000 seeded entries, most of which hold something masked. */
function expectPathsAgree(policy: SecretPolicy): void {
  const random = seededRandom(51);
  let masked = 0;
  for (let i = 0; i < 3_000; i += 1) {
    const entry = randomEntry(random, i);
    const walked = maskEntry(entry, policy);
    if (JSON.stringify(walked) !== JSON.stringify(entry)) masked += 1;
    for (const [path, result] of paths(entry, policy)) expect(result, `${path}: ${JSON.stringify(entry.after)}`).toEqual(walked);
  }
  // The strings are hostile enough: most entries hold something masked.
  expect(masked).toBeGreaterThan(1_500);
}

describe('strings holding JSON fragments and header lines', () => {
  // A document after other text whose only secret is a name with an escaped space (`x {"password\n": 1}`), which
  // JSON.parse reads as `password`: row-hints.ts (the lead's) has no hint for such a row yet, requested in
  // /work/notes/h51-requests.md item 5 (`[{[]` then an escaped quote). Flip these two to `it` with it.
  it('every path masks as the walkers do (3,000 seeded entries)', () => expectPathsAgree(createSecretPolicy()));
  it('every path fingerprints as the walkers do', () => expectPathsAgree(createSecretPolicy({ fingerprintKey: 'fragments' })));
  it('every path masks a replace-mode site name as the walkers do', () => expectPathsAgree(createSecretPolicy({ mode: 'replace', keys: ['partnerSignature'] })));

  it('the walkers leave no CNRY in a member named like a secret or a credential header', () => {
    const policy = createSecretPolicy();
    const cases = ['log {"password": "CNRY"} end', '"token":"CNRY"', '{\\"api_key\\": \\"CNRY\\"}', 'x {"secrets": {"a": ["CNRY"]}} y',
      'curl -H "Authorization: Basic CNRY" -H \'X-API-Key: CNRY1\' https://h', 'headers: Cookie: sid=CNRY', 'Set-Cookie: a=CNRY', 'https://h/cb#access_token=CNRY',
      'env: [{"name": "DB_PASSWORD", "value": "CNRY"}]', 'x ["X-API-Key", "CNRY"]', 'route [["http_x_api_key", "==", "CNRY"]]',
      'db:\n  host: h\n  password: CNRY\n', 'spring.datasource.password: CNRY', '{user: app, password: CNRY, host: h}'];
    for (const text of cases) expect(JSON.stringify(maskEntry(makeEntry({ after: { note: text } }), policy).after), text).not.toContain('CNRY');
  });

  it('writes the mask at the level of escaping it replaces, so the string still decodes, level by level, to JSON', () => {
    const note = (text: string) => (maskEntry(makeEntry({ after: { note: text } }), createSecretPolicy()).after as { note: string }).note;
    expect(note('x {\\"password\\":\\"v\\",\\"host\\":\\"h\\"}')).toBe('x {\\"password\\":\\"******\\",\\"host\\":\\"h\\"}');
    expect(note('x \\"token\\": \\"v\\", \\"n\\": 1')).toBe('x \\"token\\": \\"******\\", \\"n\\": 1');
    const twice = JSON.stringify(JSON.stringify({ secret: 'v', host: 'h' }));
    expect(JSON.parse(JSON.parse(note(twice)) as string)).toEqual({ secret: '******', host: 'h' });
  });

  // Mutants that survived the cases above (H51's check at 00:25): each clause of the member rule's name test.
  it('outside a document that parses, a contextual name is masked (no context to trust), as is a secret header in replace mode', () => {
    const masked = (text: string, policy: SecretPolicy) => JSON.stringify(maskEntry(makeEntry({ after: { note: text } }), policy).after);
    for (const text of ['x {"key": "CNRY"', '"headers": {"X-Auth": "CNRY"}', 'a "keys": ["CNRY"], b']) expect(masked(text, createSecretPolicy()), text).not.toContain('CNRY');
    const replace = createSecretPolicy({ mode: 'replace', keys: ['partnerSignature'] });
    for (const text of ['"Authorization": "CNRY"', 'x {"X-Api-Key": "CNRY"']) expect(masked(text, replace), text).not.toContain('CNRY');
    // In a document that parses, context decides, as in a whole one: limit-count's key stays.
    expect(masked('x {"plugins": {"limit-count": {"key": "remote_addr"}}}', createSecretPolicy())).toContain('remote_addr');
  });
});

describe('hostile lengths', () => {
  // Unbounded, a name was read from each quote to the string's end: 18 s for the first of these at 17dfafb.
  it.each([
    ['a run of escaped quotes', '\\"'.repeat(100_000)],
    ['an escaped member repeated, never closed', `x ${'{\\"password\\":'.repeat(13_000)}`],
    ['escaped twice', `x ${'\\\\\\"'.repeat(50_000)}`],
  ])('%s (200,000 characters) is masked in under 2 s', (_, text) => {
    const started = process.hrtime.bigint();
    maskEntry(makeEntry({ after: { note: text } }), createSecretPolicy());
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2_000);
  });
});
