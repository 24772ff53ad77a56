/**
 * The end of the line of a prune kept out by a lock (the table's, its archive's): nothing was done, how long it
 * waited (--wait-lock, as given: 10m or 90s), and what to do.
 */
export function describeLockWait(waitedMs: number | undefined): string {
  if (waitedMs === undefined) return 'nothing was done: try again when it has finished, or wait for it with --wait-lock 10m';
  const waited = waitedMs % 60_000 === 0 ? `${waitedMs / 60_000}m` : `${waitedMs / 1000}s`;
  return `nothing was done after waiting ${waited}: try again later or with a longer --wait-lock`;
}
