/** What `stats --by` can group on. Times are UTC: `day` is YYYY-MM-DD, `hour` 0-23, `weekday` 1 (Monday) to 7. */
export const DIMENSIONS = ['operator', 'operation', 'resource', 'source', 'ip', 'net', 'day', 'hour', 'weekday'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const TIME_DIMENSIONS: ReadonlySet<Dimension> = new Set<Dimension>(['day', 'hour', 'weekday']);
