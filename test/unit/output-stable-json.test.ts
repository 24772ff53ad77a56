import { describe, it, expect } from 'vitest';
import { MAX_INDENT_LEVELS, stableStringify, writeDeepJson, writeJson } from '../../src/output/stable-json.js';

/** Key-sorting replacer with JSON.stringify: the reference the iterative writer must match. */
function sortedReference(value: unknown, indent: number): string {
  const sortKeys = (_key: string, item: unknown): unknown => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    const proto: unknown = Object.getPrototypeOf(item);
    if (proto !== Object.prototype && proto !== null) return item;
    const record = item as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().map((key) => [key, record[key]]));
  };
  return JSON.stringify(value, sortKeys, indent) ?? 'null';
}

const samples: unknown[] = [
  null, 0, -1.5e300, 'a"\\\n\u2028\ud800', true, [], {}, [[]], [{}], { a: [] }, { b: 1, a: { d: [3, 1, { z: 0, y: 0 }], c: null } },
  { u: undefined, f: () => 1, n: NaN, i: Infinity }, [undefined, () => 1, NaN], { __proto__: null, z: 1, a: 2 },
  { '10': 1, '2': 2, b: 3, a: 4 }, { when: new Date(0) }, { only: undefined }, Object.create(null) as unknown,
];

describe('writeJson', () => {
  it('prints what JSON.stringify prints, at indent 0 and 2, sorted and not', () => {
    for (const sample of samples) {
      for (const indent of [0, 2, 4]) {
        expect(writeJson(sample, { indent })).toBe(JSON.stringify(sample, null, indent) ?? 'null');
        expect(stableStringify(sample, indent)).toBe(sortedReference(sample, indent));
        expect(writeDeepJson(sample, { indent })).toBe(JSON.stringify(sample, null, indent) ?? 'null');
        expect(writeDeepJson(sample, { indent, sortKeys: true })).toBe(sortedReference(sample, indent));
      }
    }
  });

  it('prints nesting 20,000 levels deep, which JSON.stringify cannot', () => {
    let deep: unknown = 'leaf';
    for (let level = 0; level < 20_000; level++) deep = level % 2 ? { k: deep } : [deep];
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(writeJson(deep)).toHaveLength(20_000 * 2 + 10_000 * 4 + '"leaf"'.length);
    const lines = stableStringify(deep).split('\n');
    expect(lines).toHaveLength(40_001);
    // Indentation stops growing, so the text stays linear in the value's size.
    expect(Math.max(...lines.slice(0, 1000).map((line) => line.length))).toBe(2 * MAX_INDENT_LEVELS + '"k": {'.length);
    expect(JSON.parse(lines.join('\n'))).toBeTruthy();
  });

  it('prints a 30,000-element array, and 99 levels as JSON.stringify does', () => {
    const items = Array.from({ length: 30_000 }, (_, index) => ({ i: index, z: [index], a: 'x' }));
    expect(writeDeepJson(items, { indent: 2, sortKeys: true })).toBe(sortedReference(items, 2));
    let nested: unknown = { b: 1, a: 2 };
    for (let level = 0; level < MAX_INDENT_LEVELS - 2; level++) nested = [nested];
    expect(stableStringify(nested)).toBe(sortedReference(nested, 2));
    expect(writeDeepJson(nested, { indent: 2, sortKeys: true })).toBe(sortedReference(nested, 2));
  });
});
