import type { EntryFilters, TimeBound } from '../domain.js';

/**
 * The filters as flag name to normalized value(s), only those given: the same filters spelled another way (order,
 * case where it does not matter, repeats) describe alike. Checkpoints and cursors record this.
 */
export function describeFilters(filters: EntryFilters): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const time = (bound: TimeBound) => (bound.kind === 'relative' ? `${bound.interval} ago` : bound.iso);
  if (filters.since) out['--since'] = time(filters.since);
  if (filters.until) out['--until'] = time(filters.until);
  const lists: [string, string[]][] = [
    ['--operator', filters.operators],
    ['--operation', filters.operations.map((op) => op.toLowerCase())],
    ['--resource', filters.resources.map(({ type, id }) => (id === undefined ? type.toLowerCase() : `${type.toLowerCase()}:${id}`))],
    ['--ip', filters.ips],
    ['--source', filters.sources.map((source) => source.toLowerCase())],
  ];
  for (const [flag, values] of lists) if (values.length > 0) out[flag] = [...new Set(values)].sort();
  return out;
}
