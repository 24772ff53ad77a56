import type { AuditEntry } from '../../src/domain.js';

/** A complete entry with plain values; tests override what they are about. */
export function makeEntry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id: '42',
    timestamp: '2024-05-01T12:34:56.123456Z',
    operator: 'alice',
    operation: 'UPDATE',
    resource_type: 'route',
    resource_id: 'r1',
    resource_name: 'orders',
    source_ip: '10.0.0.7',
    source: 'dashboard',
    before: { uri: '/orders', upstream: { nodes: [{ host: 'a.internal', port: 80, weight: 1 }] } },
    after: { uri: '/orders', upstream: { nodes: [{ host: 'b.internal', port: 80, weight: 1 }] } },
    ...overrides,
  };
}

// eslint-disable-next-line no-control-regex -- stripping ANSI escape sequences
const ANSI = /\u001b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Terminal columns of a line, independent of the code under test: CJK ideographs count 2. */
export function visibleWidth(line: string): number {
  let width = 0;
  for (const char of stripAnsi(line)) width += /[\u4e00-\u9fff]/.test(char) ? 2 : 1;
  return width;
}


export function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/**
 * A builder of random JSON states from `names` and `values`: objects of three members, pairs of items, leaves, at most
 * five levels deep; the same `random` gives the same trees.
 */
export function randomTrees(random: () => number, names: readonly string[], values: readonly unknown[]): () => unknown {
  const tree = (depth: number): unknown => {
    if (depth > 4 || random() < 0.3) return pick(random, values);
    if (random() < 0.2) return [tree(depth + 1), tree(depth + 1)];
    const out: Record<string, unknown> = {};
    for (let i = 0; i < 3; i += 1) out[pick(random, names)] = tree(depth + 1);
    return out;
  };
  return () => tree(0);
}
