import { describe, it, expect } from 'vitest';
import { CANONICAL_FIELDS } from '../../src/domain.js';
import { createColors } from '../../src/output/colors.js';
import { renderShow, showJson } from '../../src/output/show.js';
import { makeEntry } from './output-fixtures.js';

const plain = createColors(false);
const colored = createColors(true);

describe('renderShow', () => {
  it('prints the header block, a blank line, then the diff', () => {
    const [header, diff] = renderShow(makeEntry(), { colors: plain }).split('\n\n');
    expect(header!.split('\n')).toEqual([
      'ID:        42',
      'Time:      2024-05-01T12:34:56.123456Z',
      'Operator:  alice',
      'Operation: UPDATE',
      'Resource:  route:r1 (orders)',
      'Source IP: 10.0.0.7',
      'Source:    dashboard',
    ]);
    expect(diff).toContain('-        "host": "a.internal",\n+        "host": "b.internal",');
  });

  it('prints - for missing values and leaves out an unknown resource name', () => {
    const text = renderShow(makeEntry({ operator: null, source_ip: null, resource_name: null }), { colors: plain });
    expect(text).toContain('Operator:  -\n');
    expect(text).toContain('Source IP: -\n');
    expect(text).toContain('Resource:  route:r1\n');
  });

  it('colours the operation only when colours are on, and escapes control characters', () => {
    expect(renderShow(makeEntry({ operation: 'DELETE' }), { colors: colored })).toContain(colored.red('DELETE'));
    const text = renderShow(makeEntry({ operator: 'eve\u001b]0;pwned\u0007' }), { colors: plain });
    expect(text).not.toContain('\u001b');
    expect(text).toContain('Operator:  eve\\u001b]0;pwned\\u0007\n');
  });
});

describe('showJson', () => {
  it('is the canonical entry, in canonical order, plus its changes', () => {
    const { resource_name: _dropped, ...partial } = makeEntry();
    const json = showJson({ ...partial, extra: 'not canonical' } as unknown as Parameters<typeof showJson>[0]);
    expect(Object.keys(json)).toEqual([...CANONICAL_FIELDS, 'changes']);
    expect(json.resource_name).toBeNull();
    expect(json.changes).toEqual([{ path: '$.upstream.nodes[0].host', before: 'a.internal', after: 'b.internal' }]);
  });
});
