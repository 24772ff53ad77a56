import type { Position } from '../../domain.js';
import { sanitizeForTerminal } from '../../terminal-safe.js';
import type { Problem } from '../../seal/compare.js';
import type { SealCheck, VerifyReport } from '../../seal/verify-report.js';

const at = (position: Position | null): string => (position ? `id ${position.id} (${position.timestamp})` : 'none');

/** What an entry that appeared inside a sealed range can be, given how the seal bounded its range (decision 001). */
function insertedCause(guard: string | undefined): string {
  if (guard === 'open-transactions') return 'written since with a timestamp inside it (back-dated, or by a writer whose clock is more than --settle behind the server\'s; the seal waited for every open transaction, so not a late commit)';
  return `written since with a timestamp inside it: back-dated, or committed late by a transaction the seal could not see (the seal's late-commit guard was ${guard ?? 'unknown'}: only --settle held it back; see verify's README section)`;
}

/** One line per problem, as the text report prints it under its seal. */
export function describeProblem(problem: Problem): string {
  switch (problem.kind) {
    case 'modified':
      return `modified: id ${problem.id} (${problem.timestamp}): ${problem.fields.join(', ') || 'a field'} changed`;
    case 'deleted':
      return `deleted: entry ${problem.position} of the seal, id ${problem.id} (${problem.timestamp}), between ${at(problem.previous)} and ${at(problem.next)}`;
    case 'inserted':
      return `inserted: id ${problem.id} (${problem.timestamp}) into the sealed range: ${insertedCause(problem.late_commit_guard)}`;
    case 'unsealed-too-old':
      return `not sealed in time: ${problem.detail}`;
    case 'archive-mismatch':
      return `archive differs: id ${problem.id} (${problem.timestamp}) in '${problem.archive}' is not the entry that was sealed`;
    default:
      return `${problem.kind.replaceAll('-', ' ')}: ${problem.file}: ${problem.detail}`;
  }
}

function describeSeal(seal: SealCheck): string[] {
  const range = seal.to === null ? '' : `, ${seal.from ?? 'start'} to ${seal.to}, ${seal.count} entries`;
  const pruned = seal.pruned > 0 ? `; ${seal.pruned} pruned${seal.archived > 0 ? ` (${seal.archived} found in archives)` : ''}` : '';
  const lines = [`seal ${seal.seq} (${seal.file}${range}): ${seal.status === 'intact' ? 'intact' : seal.status.toUpperCase()}${pruned}`];
  for (const problem of seal.problems) lines.push(`  ${describeProblem(problem)}`);
  return lines;
}

/** The text report: a line per seal range, a line per problem under it, then what was pruned, unsealed, and the verdict. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = report.seals.flatMap(describeSeal);
  for (const problem of report.problems) lines.push(describeProblem(problem));
  if (report.prune_cutoff) lines.push(`pruned up to ${report.prune_cutoff} (signed prune record): sealed entries before it may be gone`);
  if (report.unsealed > 0) lines.push(`${report.unsealed} entries written after the newest seal are not sealed yet (the oldest at ${report.oldest_unsealed ?? 'an unprintable time'})`);
  const bad = report.seals.filter((seal) => seal.status !== 'intact').length;
  lines.push(report.intact ? `intact: ${report.seals.length} seal ranges of ${report.table}, key ${report.key_id}` : `NOT INTACT: ${bad} of ${report.seals.length} seal ranges of ${report.table}`);
  // Ids come from the table and details from store files, either of which an attacker may have written.
  return `${lines.map(sanitizeForTerminal).join('\n')}\n`;
}
