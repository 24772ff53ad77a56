import { describe, it, expect } from 'vitest';
import { diffChanges } from '../../src/output/changes.js';

describe('diffChanges', () => {
  it('reports leaf changes with JSONPath-like paths', () => {
    const before = { plugins: { 'key-auth': { key: 'a' } }, upstream: { nodes: [{ host: 'x', port: 80 }] } };
    const after = { plugins: { 'key-auth': { key: 'b' } }, upstream: { nodes: [{ host: 'y', port: 80 }] } };
    expect(diffChanges(before, after)).toEqual([
      { path: '$.plugins["key-auth"].key', before: 'a', after: 'b' },
      { path: '$.upstream.nodes[0].host', before: 'x', after: 'y' },
    ]);
  });

  it('leaves out the missing side of an added or removed field, and keeps an explicit null', () => {
    const changes = diffChanges({ gone: 1, nulled: 2, same: 3 }, { nulled: null, added: [1], same: 3 });
    expect(changes).toEqual([
      { path: '$.added', after: [1] },
      { path: '$.gone', before: 1 },
      { path: '$.nulled', before: 2, after: null },
    ]);
    expect('before' in changes[0]!).toBe(false);
    expect('after' in changes[1]!).toBe(false);
    expect(JSON.stringify(changes[0])).toBe('{"path":"$.added","after":[1]}');
  });

  it('compares arrays by index and reports added or removed elements', () => {
    expect(diffChanges({ a: [1, 2, 3] }, { a: [1, 5] })).toEqual([
      { path: '$.a[1]', before: 2, after: 5 },
      { path: '$.a[2]', before: 3 },
    ]);
    expect(diffChanges([{ k: 1 }], [{ k: 1 }, { k: 2 }])).toEqual([{ path: '$[1]', after: { k: 2 } }]);
  });

  it('gives one change at $ for CREATE and DELETE, none when both sides are empty', () => {
    expect(diffChanges(null, { uri: '/a' })).toEqual([{ path: '$', after: { uri: '/a' } }]);
    expect(diffChanges({ uri: '/a' }, undefined)).toEqual([{ path: '$', before: { uri: '/a' } }]);
    expect(diffChanges(null, null)).toEqual([]);
  });

  it('ignores key order and reports a change of kind as one change', () => {
    expect(diffChanges({ a: { x: 1, y: [1, { p: 1, q: 2 }] } }, { a: { y: [1, { q: 2, p: 1 }], x: 1 } })).toEqual([]);
    expect(diffChanges({ a: { x: 1 } }, { a: [1] })).toEqual([{ path: '$.a', before: { x: 1 }, after: [1] }]);
    expect(diffChanges({ a: 1 }, { a: '1' })).toEqual([{ path: '$.a', before: 1, after: '1' }]);
  });

  it('brackets and escapes keys that are not identifiers', () => {
    const changes = diffChanges({ 'a"b': 1, '0': 1, x_1: 1, 'a.b': 1 }, { 'a"b': 2, '0': 2, x_1: 2, 'a.b': 2 });
    expect(changes.map((change) => change.path)).toEqual(['$["0"]', '$["a\\"b"]', '$["a.b"]', '$.x_1']);
  });

  it('finds one change under equal ancestors, and past the depth JSON.stringify can print', () => {
    const doc = (leaf: number) => ({ a: { b: { c: { d: { e: leaf, f: [1, 2] } } } }, g: { h: 1 } });
    expect(diffChanges(doc(1), doc(2))).toEqual([{ path: '$.a.b.c.d.e', before: 1, after: 2 }]);
    // undefined is no value on either side, as JSON prints it.
    expect(diffChanges({ a: { b: undefined, c: 1 } }, { a: { c: 1 } })).toEqual([]);
    const deep = (leaf: string) => {
      let value: unknown = leaf;
      for (let level = 0; level < 20_000; level++) value = { k: value };
      return value;
    };
    expect(() => JSON.stringify(deep('x'))).toThrow(RangeError);
    expect(diffChanges({ top: deep('x') }, { top: deep('x') })).toEqual([]);
    expect(diffChanges({ top: deep('x') }, { top: deep('y') })).toHaveLength(1);
  });
});
