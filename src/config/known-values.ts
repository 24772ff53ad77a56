import type { EntryFilters } from '../domain.js';

/**
 * The values API7 writes today for the enumerated columns. A filter outside them still runs (new API7 versions add
 * some) but is warned about; completion offers them. Kept apart from the query code so completion loads no Kysely.
 */
export const KNOWN_SOURCES: readonly string[] = ['dashboard', 'api', 'adc'];
export const KNOWN_OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'PATCH', 'DELETE', 'LOGIN', 'LOGOUT', 'PUBLISH', 'ROLLBACK'];
export const KNOWN_RESOURCE_TYPES: readonly string[] = [
  'route', 'service', 'upstream', 'ssl', 'consumer', 'consumer_group', 'credential', 'plugin_config', 'plugin_metadata',
  'global_rule', 'stream_route', 'proto', 'secret', 'gateway_group', 'user',
];

/** Whether `value` is one of `known`, case aside. */
export const isKnown = (known: readonly string[], value: string) => known.some((item) => item.toLowerCase() === value.toLowerCase());

/** One warning per filter value outside the known set, listing the known values, so a typo is not silence. */
export function unknownFilterWarnings(filters: EntryFilters): string[] {
  const warn = (flag: string, value: string, known: readonly string[]) =>
    `warning: ${flag} '${value}' is not one of the known values (${known.join(', ')}); filtering on it anyway`;
  return [
    ...filters.sources.filter((value) => !isKnown(KNOWN_SOURCES, value)).map((value) => warn('--source', value, KNOWN_SOURCES)),
    ...filters.operations.filter((value) => !isKnown(KNOWN_OPERATIONS, value)).map((value) => warn('--operation', value, KNOWN_OPERATIONS)),
    ...filters.resources
      .filter(({ type }) => !isKnown(KNOWN_RESOURCE_TYPES, type))
      .map(({ type }) => warn('--resource', type, KNOWN_RESOURCE_TYPES)),
  ];
}
