import type { EntryFilters, LateCommitGuard } from '../domain.js';
import type { Checkpoint, CheckpointCoverage } from './checkpoint.js';
import { UsageError } from '../errors.js';
import { describeFilters } from '../config/describe-filters.js';

/** The filters as the checkpoint records them (as cursors do): flag name to normalized value(s), only those given. */
export { describeFilters };

/** `--operator alice --since 30 days ago`, or `no filters`. */
export function formatFilters(filters: Record<string, string | string[]>): string {
  const parts = Object.entries(filters).flatMap(([flag, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${flag} ${v}`));
  return parts.length > 0 ? parts.join(' ') : 'no filters';
}

const sameFilters = (a: Record<string, string | string[]>, b: Record<string, string | string[]>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/**
 * What this run will record in the checkpoint. A checkpoint follows one stream: a run with other filters, another
 * destination kind or another table would continue a position that means something else, so it is refused. A version-1 file carries
 * no coverage: it is continued, and recorded as `unknown`, never trusted by `prune --only-exported`.
 */
export function runCoverage(
  file: string,
  previous: Checkpoint | undefined,
  filters: EntryFilters,
  destination: string,
  guard: LateCommitGuard,
  source?: string,
): CheckpointCoverage {
  const wanted = describeFilters(filters);
  const recorded = previous?.coverage;
  if (recorded && !sameFilters(recorded.filters, wanted)) {
    throw new UsageError(
      `checkpoint ${file} was written by exports with ${formatFilters(recorded.filters)}, this run has ${formatFilters(wanted)}: use the same filters, or another checkpoint file`,
    );
  }
  if (recorded && recorded.destination !== destination) {
    throw new UsageError(
      `checkpoint ${file} was written by exports to ${recorded.destination}, this run exports to ${destination}: use another checkpoint file`,
    );
  }
  if (recorded?.source !== undefined && source !== undefined && !sameCheckpointSource(recorded.source, source)) {
    throw new UsageError(`checkpoint ${file} was written by exports of ${recorded.source}, this run reads ${source}: use another checkpoint file`);
  }
  return { destination, filters: wanted, guard: weakerGuard(previous ? (recorded?.guard ?? 'unknown') : guard, guard), source };
}

const SERVER = / \(server \d+\)$/;

/** Whether two recorded sources (queries/checkpoint-source.ts) name the same table; servers count only when both are named. */
export function sameCheckpointSource(a: string, b: string): boolean {
  return a === b || ((!SERVER.test(a) || !SERVER.test(b)) && a.replace(SERVER, '') === b.replace(SERVER, ''));
}

const STRENGTH: Record<LateCommitGuard, number> = { 'open-transactions': 2, settle: 1, unknown: 0 };

/** A checkpoint is as trustworthy as the weakest run that advanced it. */
export const weakerGuard = (a: LateCommitGuard, b: LateCommitGuard): LateCommitGuard => (STRENGTH[a] <= STRENGTH[b] ? a : b);
