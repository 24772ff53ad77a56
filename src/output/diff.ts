import type { Colors } from './colors.js';
import { diffLines } from './line-diff.js';
import { stableStringify } from './stable-json.js';
import { sanitizeForTerminal } from './terminal-text.js';

export interface RenderDiffOptions {
  colors: Colors;
  /** Unchanged lines shown around each change; default 3, as in `diff -u`. */
  contextLines?: number;
  /** Changed lines printed at most (default {@link MAX_CHANGED_LINES}); a note says when the diff was cut. */
  maxChangedLines?: number;
}

export const NO_CHANGES = '(no changes)';

/** A terminal's worth of changes many times over; `--output json` lists every change. */
export const MAX_CHANGED_LINES = 2000;
/** Edits a minimal diff may take: Myers' time grows with lines × edits, so a longer script is paired by position. */
const MAX_EDITS = 500;

/**
 * A unified diff of two versions of a resource, as text without a final newline (the caller adds it). Each side
 * is printed with {@link stableStringify}, so a key reorder is not a change. A null or undefined side is empty
 * text: a CREATE shows every line added, a DELETE every line removed. Identical sides print {@link NO_CHANGES}.
 * Time and length are bounded for any input (see line-diff.ts); a note under the diff says when it was cut.
 * Mask secrets first.
 */
export function renderDiff(before: unknown, after: unknown, options: RenderDiffOptions): string {
  const { colors } = options;
  const oldText = toText(before);
  const newText = toText(after);
  if (oldText === newText) return NO_CHANGES;
  const diff = diffLines(toLines(oldText), toLines(newText), {
    context: options.contextLines ?? 3,
    maxChangedLines: options.maxChangedLines ?? MAX_CHANGED_LINES,
    maxEdits: MAX_EDITS,
  });
  const lines = [colors.bold('--- before'), colors.bold('+++ after')];
  for (const hunk of diff.hunks) {
    const header = `@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@`;
    lines.push(colors.cyan(header));
    for (const line of hunk.lines) lines.push(colorLine(colors, sanitizeForTerminal(line)));
  }
  if (diff.cut) {
    const shown = diff.hunks.reduce((sum, hunk) => sum + hunk.lines.filter((line) => line[0] !== ' ').length, 0);
    lines.push(colors.yellow(`(diff cut at ${shown} of ${diff.changedLines} changed lines; use --output json for every change)`));
  } else if (diff.paired) {
    lines.push(colors.dim('(too many changes for a minimal diff: lines are paired by position; use --output json for every change)'));
  }
  return lines.join('\n');
}

function toText(value: unknown): string {
  return value === null || value === undefined ? '' : `${stableStringify(value)}\n`;
}

/** The lines of a text that is empty or ends with a newline. */
function toLines(text: string): string[] {
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/** Unified-diff ranges: an empty side starts at the line before (`-0,0`), as GNU diff and `formatPatch` print. */
function range(start: number, count: number): string {
  return `${count === 0 ? start - 1 : start},${count}`;
}

function colorLine(colors: Colors, line: string): string {
  if (line.startsWith('+')) return colors.green(line);
  if (line.startsWith('-')) return colors.red(line);
  return line;
}
