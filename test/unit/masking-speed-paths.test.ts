import { describe, expect, it } from 'vitest';
import { fromByteString, toByteString } from '../../src/byte-string.js';
import type { AuditEntry } from '../../src/domain.js';
import { replaceRanges } from '../../src/secrets/json-text.js';
import { createSecretPolicy, maskEntry, maskEntryBytes, type SecretPolicy } from '../../src/secrets/policy.js';
import { compileHintRules, rowHints, SECRET_KEY, WALKERS } from '../../src/secrets/row-hints.js';
import { makeEntry } from './output-fixtures.js';

// The shortcuts that make export's masking cheaper (docs/decisions/003-export-speed.md): each must leave the byte
// path's result that of the object walkers. `CNRY` marks what must be masked.

const policy = createSecretPolicy();

/** The byte path's result, parsed back, for the entry as the export query writes it (compact) and as jsonb spaces it. */
function bytePaths(entry: AuditEntry, using: SecretPolicy = policy): unknown[] {
  const compact = JSON.stringify(entry);
  const jsonb = compact.replace(/("(?:[^"\\]|\\.)*")|([:,])/g, (_, str: string, punct: string) => str ?? `${punct} `);
  return [compact, jsonb].map((text) => JSON.parse(fromByteString(maskEntryBytes(toByteString(text), using))) as unknown);
}

function expectAsWalkers(entry: AuditEntry, using: SecretPolicy = policy): string {
  const walked = maskEntry(entry, using);
  for (const masked of bytePaths(entry, using)) expect(masked).toEqual(walked);
  return JSON.stringify(walked);
}

describe('the pre-check remembers what a string is, apart as a key and as a value', () => {
  const rules = compileHintRules(policy.keys, ['key', 'keys', 'headers'], false);

  it('a secret name seen as a key first is still a secret name held as a value, and the other way round', () => {
    expect(rowHints('{"password": "x", "env": [{"name": "password"}]}', 0, rules)).toBe(WALKERS);
    expect(rowHints('{"env": [{"name": "password"}], "password": "x"}', 0, rules)).toBe(WALKERS);
    expect(rowHints('{"password": "x"}', 0, rules)).toBe(SECRET_KEY);
  });

  it('rows that repeat the same names are masked the same each time', () => {
    const entries = [
      makeEntry({ before: null, after: { password: 'CNRY1', env: [{ name: 'password', value: 'CNRY2' }] } }),
      makeEntry({ before: null, after: { env: [{ name: 'password', value: 'CNRY3' }], password: 'CNRY4' } }),
      makeEntry({ before: null, after: { password: 'CNRY5', note: 'visible' } }),
    ];
    for (let round = 0; round < 3; round += 1) {
      for (const entry of entries) {
        const text = expectAsWalkers(entry);
        expect(text).not.toContain('CNRY');
      }
    }
  });
});

describe('JSON in a string, after any JSON whitespace, and cookie variables', () => {
  it.each([
    ['{"password": "CNRY"}'], [' {"password": "CNRY"}'], ['\n[{"token": "CNRY"}]'], ['\t \r\n{"secret": "CNRY"}'], ['[ "x", {"api_key": "CNRY"} ]'],
    // Found by the lead alone: no name in them ends before a `"`, `:` or `=`.
    ['[{"name": "Authorization", "value": "CNRY"}]'], [' [{"name": "Authorization", "value": "CNRY"}]'], ['\n[{"name": "Cookie", "value": "CNRY"}]'],
    ['\t{"env": [{"name": "X-Api-Key", "value": "CNRY"}]}'],
  ])('%j as a string value is masked inside', (value) => {
    const text = expectAsWalkers(makeEntry({ before: null, after: { note: value, other: 'visible' } }));
    expect(text).not.toContain('CNRY');
    expect(text).toContain('visible');
  });

  it('a JSON member after text before the brace is masked as the walkers mask it', () => {
    const text = expectAsWalkers(makeEntry({ before: null, after: { note: 'x {"password": "shown"}', other: 'visible' } }));
    expect(text).not.toContain('shown');
    expect(text).toContain('visible');
  });

  it('a vars expression on a cookie hides its value', () => {
    const text = expectAsWalkers(makeEntry({ before: null, after: { vars: [['cookie_session', '==', 'CNRY']], other: 'visible' } }));
    expect(text).not.toContain('CNRY');
  });
});

describe('masking where the hits are', () => {
  it('a site name that reads before or after once trimmed and lower-cased goes to the scanner, which tells it from the states', () => {
    const site = createSecretPolicy({ keys: ['before', 'after'] });
    for (const name of ['before', ' Before', 'AFTER ', '  after']) {
      const text = expectAsWalkers(makeEntry({ before: { a: 1 }, after: { [name]: 'CNRY', token: 'CNRY2', beta: 'visible' } }), site);
      expect(text).not.toContain('CNRY');
      expect(text).toContain('visible');
    }
  });

  it('the resource type is read when a key needs it: an SSL resource\'s root key, not a route\'s', () => {
    expect(expectAsWalkers(makeEntry({ resource_type: 'ssl', before: null, after: { id: 's', key: 'CNRY', token: 'CNRY2' } }))).not.toContain('CNRY');
    expect(expectAsWalkers(makeEntry({ resource_type: 'route', before: null, after: { id: 'r', key: 'visible', token: 'CNRY' } }))).toContain('visible');
  });

  it('rows masked in turn under different policies each get their own', () => {
    const row = toByteString(JSON.stringify(makeEntry({ before: null, after: { password: 'CNRY', token: 'CNRY2' } })));
    const replace = createSecretPolicy({ mode: 'replace', keys: ['token'] });
    for (let round = 0; round < 2; round += 1) {
      expect(maskEntryBytes(row, policy)).not.toContain('CNRY');
      const kept = maskEntryBytes(row, replace);
      expect(kept).toContain('"CNRY"');
      expect(kept).not.toContain('CNRY2');
    }
  });
});

describe('replaceRanges', () => {
  const text = '{"a": "1", "b": {"c": "2"}, "d": "3"}';
  const a = [text.indexOf('"1"'), text.indexOf('"1"') + 3];
  const b = [text.indexOf('{"c"'), text.indexOf('}, "d"') + 1];
  const c = [text.indexOf('"2"'), text.indexOf('"2"') + 3];
  const d = [text.indexOf('"3"'), text.indexOf('"3"') + 3];
  const masked = '{"a": "******", "b": "******", "d": "******"}';

  it('gives the same text for ranges in order and in any other order, a range inside another one being part of it', () => {
    expect(replaceRanges(text, [...a, ...b, ...c, ...d])).toBe(masked);
    expect(replaceRanges(text, [...d, ...c, ...a, ...b])).toBe(masked);
    expect(replaceRanges(text, [...b, ...b, ...a, ...d])).toBe(masked);
  });

  it('gives each range\'s text to the mask', () => {
    expect(replaceRanges(text, [...a, ...d], (token) => `<${token}>`)).toBe('{"a": <"1">, "b": {"c": "2"}, "d": <"3">}');
  });
});
