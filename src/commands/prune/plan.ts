import type { Db } from '../../db/connect.js';
import type { ResolvedMapping } from '../../db/mapping.js';
import { earlierInstant } from '../../config/instant.js';
import { checkCheckpointId } from '../../queries/id-check.js';
import { listTimePartitions, type TimePartition } from '../../queries/partitions.js';
import { computeCutoff, matchEntries, type PruneBound } from '../../queries/prune.js';
import type { PruneOptions } from './options.js';
import { checkExportedSource } from './only-exported.js';
import { readCheckpointSource } from '../../queries/checkpoint-source.js';

/** What a prune will remove, decided before anything is: the frozen cutoff, the bound, whole partitions, the count. */
export interface PrunePlan {
  cutoff: string;
  bound: PruneBound;
  /** Partitions wholly before the bound: they go whole (detached, then dropped). */
  partitions: TimePartition[];
  matched: number;
  oldest?: string;
  newest?: string;
}

/** Plans a prune on `conn` (read-only statements): the same plan for a dry run and a real one. */
export async function planPrune(conn: Db, mapping: ResolvedMapping, options: PruneOptions): Promise<PrunePlan> {
  const cutoff = options.cutoff ?? (await computeCutoff(conn, options.retention.days));
  const exported = options.onlyExported;
  if (exported) {
    checkCheckpointId(mapping, exported.id, 'the --only-exported checkpoint');
    checkExportedSource(exported, await readCheckpointSource(conn, mapping));
  }
  const bound: PruneBound = { before: cutoff, upTo: exported && { timestamp: exported.timestamp, id: exported.id } };
  // A partition may go whole only if every row in it is before the cutoff and already exported: its upper bound
  // must not pass the earlier of the two (rows at a timestamp before the checkpoint's are at or before it).
  const partitionLimit = exported ? earlierInstant(exported.timestamp, cutoff) : cutoff;
  const partitions = ((await listTimePartitions(conn, mapping, partitionLimit)) ?? []).filter((partition) => partition.whollyBefore);
  const match = await matchEntries(conn, mapping, bound);
  return { cutoff, bound, partitions, matched: match.matched, oldest: match.oldest, newest: match.newest };
}
