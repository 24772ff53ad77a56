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
