import { describe, expect, it } from 'vitest';
import { readEntryHead } from '../../src/queries/export.js';

// readEntryHead takes the plain fields from the head of an entry's JSON text, in place where it can: the results
// must be JSON.parse's, whatever the values hold and however the text is spaced.
const head = { id: '7', timestamp: '2026-01-02T03:04:05.678901Z', operator: 'alice', operation: null, resource_type: 'ssl', resource_id: 'r', resource_name: null, source_ip: '10.0.0.1', source: 'dashboard' };
const change = { before: { key: 'k', note: '"before" : x' }, after: null };

/** Written as json_build_object writes it: `"key" : value` and `, ` at the top level. */
function spaced(value: Record<string, unknown>): string {
  return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} : ${JSON.stringify(v)}`).join(', ')}}`;
}

describe('readEntryHead', () => {
  it.each([
    ['json_build_object spacing', spaced({ ...head, ...change })],
    ['JSON.stringify (a masked row written again)', JSON.stringify({ ...head, ...change })],
    ['pretty-printed (parsed whole)', JSON.stringify({ ...head, ...change }, null, 2)],
  ])('reads %s', (_, text) => {
    expect(readEntryHead(text)).toEqual(head);
  });

  it.each([
    'a, "before" : b',
    'x,"before":{"y',
    'quote " and backslash \\ at the end\\',
    'Zürich café 東京 😀 \u2028',
    '',
  ])('decodes a value holding %j', (value) => {
    const tricky = { ...head, operator: value, resource_name: value, source: value };
    expect(readEntryHead(spaced({ ...tricky, ...change }))).toEqual(tricky);
    expect(readEntryHead(JSON.stringify({ ...tricky, ...change }))).toEqual(tricky);
  });
});
