import { structuredPatch } from 'diff';
import type { Colors } from './colors.js';
import { stableStringify } from './stable-json.js';
import { sanitizeForTerminal } from './terminal-text.js';

export interface RenderDiffOptions {
  colors: Colors;
  /** Unchanged lines shown around each change; default 3, as in `diff -u`. */
  contextLines?: number;
}

export const NO_CHANGES = '(no changes)';

/**
 * A unified diff of two versions of a resource, as text without a final newline (the caller adds it). Each side
 * is printed with {@link stableStringify}, so a key reorder is not a change. A null or undefined side is empty
 * text: a CREATE shows every line added, a DELETE every line removed. Identical sides print {@link NO_CHANGES}.
 * Mask secrets first.
 */
export function renderDiff(before: unknown, after: unknown, options: RenderDiffOptions): string {
  const { colors } = options;
  const oldText = toText(before);
  const newText = toText(after);
  if (oldText === newText) return NO_CHANGES;
  const patch = structuredPatch('before', 'after', oldText, newText, undefined, undefined, {
    context: options.contextLines ?? 3,
  });
  const lines = [colors.bold('--- before'), colors.bold('+++ after')];
  for (const hunk of patch.hunks) {
    const header = `@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@`;
    lines.push(colors.cyan(header));
    for (const line of hunk.lines) lines.push(colorLine(colors, sanitizeForTerminal(line)));
  }
  return lines.join('\n');
}

function toText(value: unknown): string {
  return value === null || value === undefined ? '' : `${stableStringify(value)}\n`;
}

/** Unified-diff ranges: an empty side starts at the line before (`-0,0`), as GNU diff and `formatPatch` print. */
function range(start: number, count: number): string {
  return `${count === 0 ? start - 1 : start},${count}`;
}

function colorLine(colors: Colors, line: string): string {
  if (line.startsWith('+')) return colors.green(line);
  if (line.startsWith('-')) return colors.red(line);
  if (line.startsWith('\\')) return colors.dim(line);
  return line;
}
