import { describe, expect, it } from 'vitest';
import { decodeToken, escapeLineSeparators, readHeadTokens, type HeadTokens } from '../../src/queries/export-record.js';
import { seededRandom } from '../support/random.js';

// readHeadTokens takes the plain fields from the head of an entry's JSON text by position where it can: every token
// must be the JSON text of the value JSON.parse reads, whatever the values hold and however the text is spaced.
const head = { id: '7', timestamp: '2026-01-02T03:04:05.678901Z', operator: 'alice', operation: null, resource_type: 'ssl', resource_id: 'r', resource_name: null, source_ip: '10.0.0.1', source: 'dashboard' };
const { id: _id, ...withoutId } = head;
const change = { before: { key: 'k', note: '"before" : x' }, after: null };

/** Written as json_build_object writes it: `"key" : value` and `, ` at the top level. */
function spaced(value: Record<string, unknown>): string {
  return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} : ${JSON.stringify(v)}`).join(', ')}}`;
}

function decoded(tokens: HeadTokens): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tokens).map(([key, token]) => [key, decodeToken(token)]));
}

describe('readHeadTokens', () => {
  it.each([
    ['compact, as row_to_json and JSON.stringify (a masked row) write it', JSON.stringify({ ...head, ...change })],
    ['json_build_object spacing (parsed whole)', spaced({ ...head, ...change })],
    ['pretty-printed (parsed whole)', JSON.stringify({ ...head, ...change }, null, 2)],
    ['keys in another order (parsed whole)', JSON.stringify({ ...withoutId, id: head.id, ...change })],
  ])('reads %s', (_, text) => {
    const tokens = readHeadTokens(text);
    expect(decoded(tokens)).toEqual(head);
    for (const token of Object.values(tokens)) expect(JSON.stringify(JSON.parse(token))).toBe(token);
  });

  it.each([
    'a, "before" : b',
    'x,"before":{"y',
    'quote " and backslash \\ at the end\\',
    'backslashes \\\\" then a quote',
    '\\',
    'Zürich café 東京 😀 \u2028',
    '',
  ])('reads a value holding %j', (value) => {
    const tricky = { ...head, operator: value, resource_name: value, source: value };
    expect(decoded(readHeadTokens(spaced({ ...tricky, ...change })))).toEqual(tricky);
    const compact = readHeadTokens(JSON.stringify({ ...tricky, ...change }));
    expect(decoded(compact)).toEqual(tricky);
    expect(compact.operator).toBe(JSON.stringify(value));
  });

  it('keeps null as the token null', () => {
    expect(readHeadTokens(JSON.stringify({ ...head, ...change })).operation).toBe('null');
    expect(decodeToken('null')).toBeNull();
  });
});

describe('escapeLineSeparators', () => {
  // The reference: every U+2028, U+2029 and U+0085 (as UTF-8 bytes in a byte string) escaped, nothing else touched.
  const reference = (bytes: string) => bytes.replace(/\u00e2\u0080\u00a8/g, '\\u2028').replace(/\u00e2\u0080\u00a9/g, '\\u2029').replace(/\u00c2\u0085/g, '\\u0085');
  const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

  it('escapes exactly the line separators among look-alike bytes, for 5,000 random byte strings', () => {
    const random = seededRandom(29);
    const pieces = ['\u2028', '\u2029', '\u0085', '\u201c', '\u2014', '\u2026', '\u00e2', '\u00c2', 'a', '"', '张', '😀', '\u2027', '\u202a'].map(utf8);
    pieces.push('\u00e2\u0080', '\u00e2', '\u0080', '\u00c2');
    for (let i = 0; i < 5000; i += 1) {
      let bytes = '';
      const length = Math.floor(random() * 12);
      for (let k = 0; k < length; k += 1) bytes += pieces[Math.floor(random() * pieces.length)];
      expect(escapeLineSeparators(bytes), JSON.stringify(bytes)).toBe(reference(bytes));
    }
  });
});
