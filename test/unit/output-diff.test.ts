import { describe, it, expect } from 'vitest';
import { createColors } from '../../src/output/colors.js';
import { NO_CHANGES, renderDiff } from '../../src/output/diff.js';
import { stableStringify } from '../../src/output/stable-json.js';

const plain = createColors(false);
const colored = createColors(true);
const route = { uri: '/a', plugins: { 'key-auth': {}, cors: { origins: '*' } }, nodes: [{ host: 'a', port: 80 }] };

/** The body lines of a diff: everything but the `---`/`+++` pair and the `@@` hunk headers. */
function bodyLines(diff: string): string[] {
  return diff.split('\n').filter((line) => !/^(---|\+\+\+|@@) /.test(line));
}

describe('stableStringify', () => {
  it('sorts object keys at every level and keeps array order', () => {
    expect(stableStringify({ b: 1, a: { d: [3, 1, { z: 0, y: 0 }], c: null } }, 0)).toBe(
      '{"a":{"c":null,"d":[3,1,{"y":0,"z":0}]},"b":1}',
    );
  });

  it('prints the same text whatever order the keys were stored in', () => {
    const reordered = { nodes: [{ port: 80, host: 'a' }], plugins: { cors: { origins: '*' }, 'key-auth': {} }, uri: '/a' };
    expect(stableStringify(reordered)).toBe(stableStringify(route));
    expect(stableStringify(route)).toContain('\n  "nodes": [');
  });

  it('prints undefined as null', () => {
    expect(stableStringify(undefined)).toBe('null');
  });
});

describe('renderDiff', () => {
  it('shows a CREATE as every line added', () => {
    const diff = renderDiff(null, route, { colors: plain });
    expect(diff.split('\n').slice(0, 3)).toEqual(['--- before', '+++ after', '@@ -0,0 +1,15 @@']);
    const body = bodyLines(diff);
    expect(body).toHaveLength(stableStringify(route).split('\n').length);
    for (const line of body) expect(line.startsWith('+')).toBe(true);
  });

  it('shows a DELETE as every line removed', () => {
    const body = bodyLines(renderDiff(route, undefined, { colors: plain }));
    expect(body.length).toBeGreaterThan(5);
    for (const line of body) expect(line.startsWith('-')).toBe(true);
  });

  it('shows no changes for a key reorder or two empty sides', () => {
    const reordered = JSON.parse(JSON.stringify({ plugins: route.plugins, nodes: route.nodes, uri: '/a' })) as unknown;
    expect(renderDiff(route, reordered, { colors: colored })).toBe(NO_CHANGES);
    expect(renderDiff(null, undefined, { colors: plain })).toBe(NO_CHANGES);
  });

  it('shows only the changed line, with the requested context', () => {
    const after = { ...route, nodes: [{ host: 'b', port: 80 }] };
    const body = bodyLines(renderDiff(route, after, { colors: plain, contextLines: 0 }));
    expect(body).toEqual(['-      "host": "a",', '+      "host": "b",']);
    expect(bodyLines(renderDiff(route, after, { colors: plain })).length).toBeGreaterThan(2);
  });

  it('colours + green, - red and hunk headers cyan only when colours are on', () => {
    const after = { ...route, uri: '/b' };
    const text = renderDiff(route, after, { colors: colored });
    expect(text).toContain(colored.green('+  "uri": "/b"'));
    expect(text).toContain(colored.red('-  "uri": "/a"'));
    expect(text).toContain(colored.cyan('@@ -11,5 +11,5 @@'));
    expect(renderDiff(route, after, { colors: plain })).not.toContain('\u001b');
  });

  it('escapes C1 control and bidi characters that JSON leaves raw', () => {
    const text = renderDiff({ name: 'a' }, { name: 'b\u009b2J\u202e' }, { colors: plain });
    expect(text).toContain('+  "name": "b\\u009b2J\\u202e"');
  });
});
