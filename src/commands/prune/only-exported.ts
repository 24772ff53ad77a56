import type { Position } from '../../domain.js';
import { UsageError } from '../../errors.js';
import { readCheckpoint } from '../../delivery/checkpoint.js';
import { formatFilters, sameCheckpointSource } from '../../delivery/coverage.js';

/**
 * `--only-exported CHECKPOINT`: the position an export run recorded, if that checkpoint proves that every entry up
 * to it was sent: written by exports of every entry (no filters) that each saw the open transactions, so no entry
 * committed late behind it (docs/decisions/001-late-commits.md). Anything else is refused rather than trusted: a
 * missing file, a version-1 file (which records neither), a filtered export, a run that had only --settle.
 */
export async function readExportedPosition(file: string): Promise<ExportedPosition> {
  const checkpoint = await readCheckpoint(file);
  const refuse = (why: string) => new UsageError(`refusing --only-exported '${file}': ${why}`);
  const fresh = 'run one export of every entry (no filters) with a new --checkpoint file, then prune with that file';
  if (!checkpoint) throw refuse('no such checkpoint file (run export with --checkpoint first)');
  const coverage = checkpoint.coverage;
  if (checkpoint.version === 1 || !coverage) throw refuse(`a version-1 checkpoint does not record what its exports covered; ${fresh}`);
  if (Object.keys(coverage.filters).length > 0) {
    throw refuse(`it was written by a filtered export (${formatFilters(coverage.filters)}), so entries before its position may never have been sent; ${fresh}`);
  }
  if (coverage.guard !== 'open-transactions') {
    const why = coverage.guard === 'settle'
      ? 'an export that wrote it could see only the --settle window, not the open transactions (role without pg_read_all_stats, or a standby), so an entry committed late may be behind it unsent'
      : 'it was upgraded from a version-1 file, whose exports did not guard against late commits';
    throw refuse(`${why}; ${fresh}`);
  }
  return { ...checkpoint.position, file, source: coverage.source };
}

/** The position, with the checkpoint file and the table its exports read (if recorded), for {@link checkExportedSource}. */
export interface ExportedPosition extends Position {
  file: string;
  source?: string;
}

/** Refuses a checkpoint written by exports of another table, database or server: its position says nothing of this one. */
export function checkExportedSource(exported: ExportedPosition, source: string): void {
  if (exported.source === undefined || sameCheckpointSource(exported.source, source)) return;
  throw new UsageError(
    `refusing --only-exported '${exported.file}': it was written by exports of ${exported.source}, this prune is of ${source}; ` +
      'pass the checkpoint of an export of this table',
  );
}

