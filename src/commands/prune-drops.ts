import type { Db } from '../db/connect.js';
import { dropDetached, partitionName, type TimePartition } from '../queries/partitions.js';

/**
 * Drops detached tables on the pool's other connection while the prune goes on with the next partition or the
 * row-by-row deletion: a DROP only commits once the table's files are gone (measured: 300-350 ms for a month of
 * 1 KB entries with their indexes), and the table is no longer part of the audit table, so nothing waits on it.
 * The DROPs queue on that one connection: two at once took 540 and 720 ms, longer than one after the other. A
 * table whose DROP fails stays marked and is dropped by the next run.
 */
export class BackgroundDrops {
  private readonly pending: Promise<{ name: string; error?: unknown }>[] = [];

  constructor(private readonly db: Db) {}

  start(table: Pick<TimePartition, 'schema' | 'name'>): void {
    const name = partitionName(table);
    this.pending.push(
      dropDetached(this.db, table).then(
        () => ({ name }),
        (error: unknown) => ({ name, error }),
      ),
    );
  }

  /** Waits for every DROP started so far: the tables dropped, in the order they were started, and the first failure. */
  async settle(): Promise<{ dropped: string[]; error?: unknown }> {
    const settled = await Promise.all(this.pending.splice(0));
    return { dropped: settled.filter((drop) => !('error' in drop)).map((drop) => drop.name), error: settled.find((drop) => 'error' in drop)?.error };
  }
}
