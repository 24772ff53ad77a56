import { diffArrays } from 'diff';

/** One hunk of a unified diff: 1-based starts, line counts, and lines prefixed with ' ', '-' or '+'. */
export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: string[];
}

export interface LineDiff {
  hunks: Hunk[];
  /** Changed ('-' and '+') lines in the whole diff; more than the hunks hold when it was cut. */
  changedLines: number;
  /** The hunks stop at `maxChangedLines` changed lines. */
  cut: boolean;
  /** Too many edits for a minimal diff: lines of the changed middle were paired by position instead. */
  paired: boolean;
}

export interface LineDiffOptions {
  /** Unchanged lines around each change. */
  context: number;
  /** Changed lines printed at most; the rest is counted, not shown. */
  maxChangedLines: number;
  /** Edits a minimal (Myers) diff may need before lines are paired by position instead; bounds its O(N·D) time. */
  maxEdits: number;
}

/** Removed old lines [oldFrom, oldTo) and added new lines [newFrom, newTo); equal lines lie between blocks. */
interface Block {
  oldFrom: number;
  oldTo: number;
  newFrom: number;
  newTo: number;
}

/**
 * A unified line diff whose time and output are bounded whatever the input: the common head and tail are cut off
 * in linear time, the middle gets a minimal diff when it needs at most `maxEdits` edits, and otherwise its lines
 * are paired by position (a correct diff, and the right one when values changed in place, as in a large array);
 * the hunks stop after `maxChangedLines` changed lines.
 */
export function diffLines(oldLines: readonly string[], newLines: readonly string[], options: LineDiffOptions): LineDiff {
  let head = 0;
  while (head < oldLines.length && head < newLines.length && oldLines[head] === newLines[head]) head++;
  let tail = 0;
  while (
    tail < oldLines.length - head &&
    tail < newLines.length - head &&
    oldLines[oldLines.length - 1 - tail] === newLines[newLines.length - 1 - tail]
  ) {
    tail++;
  }
  const oldMiddle = oldLines.slice(head, oldLines.length - tail);
  const newMiddle = newLines.slice(head, newLines.length - tail);
  const minimal = minimalBlocks(oldMiddle, newMiddle, options.maxEdits);
  const blocks = (minimal ?? pairedBlocks(oldMiddle, newMiddle)).map((block) => ({
    oldFrom: block.oldFrom + head,
    oldTo: block.oldTo + head,
    newFrom: block.newFrom + head,
    newTo: block.newTo + head,
  }));
  const changedLines = blocks.reduce((sum, block) => sum + block.oldTo - block.oldFrom + block.newTo - block.newFrom, 0);
  const { hunks, cut } = buildHunks(oldLines, newLines, blocks, options);
  return { hunks, changedLines, cut, paired: minimal === undefined };
}

/** Myers' diff of the middle as blocks, or undefined when it needs more than `maxEdits` edits. */
function minimalBlocks(oldLines: string[], newLines: string[], maxEdits: number): Block[] | undefined {
  if (oldLines.length === 0 || newLines.length === 0) {
    return oldLines.length + newLines.length === 0 ? [] : [{ oldFrom: 0, oldTo: oldLines.length, newFrom: 0, newTo: newLines.length }];
  }
  const parts = diffArrays(oldLines, newLines, { maxEditLength: maxEdits });
  if (parts === undefined) return undefined;
  const blocks: Block[] = [];
  let oldAt = 0;
  let newAt = 0;
  let open: Block | undefined;
  for (const part of parts) {
    const count = part.value.length;
    if (!part.added && !part.removed) {
      open = undefined;
      oldAt += count;
      newAt += count;
      continue;
    }
    if (!open) {
      open = { oldFrom: oldAt, oldTo: oldAt, newFrom: newAt, newTo: newAt };
      blocks.push(open);
    }
    if (part.removed) open.oldTo = oldAt += count;
    else open.newTo = newAt += count;
  }
  return blocks;
}

/** Line i of one side against line i of the other: runs of differing lines become blocks, the longer side's rest one more. */
function pairedBlocks(oldLines: string[], newLines: string[]): Block[] {
  const blocks: Block[] = [];
  const common = Math.min(oldLines.length, newLines.length);
  let from = -1;
  for (let index = 0; index <= common; index++) {
    const differs = index < common && oldLines[index] !== newLines[index];
    if (differs && from < 0) from = index;
    if (!differs && from >= 0) {
      blocks.push({ oldFrom: from, oldTo: index, newFrom: from, newTo: index });
      from = -1;
    }
  }
  if (oldLines.length !== newLines.length) {
    const last = blocks[blocks.length - 1];
    if (last && last.oldTo === common) {
      last.oldTo = oldLines.length;
      last.newTo = newLines.length;
    } else {
      blocks.push({ oldFrom: common, oldTo: oldLines.length, newFrom: common, newTo: newLines.length });
    }
  }
  return blocks;
}

/** Groups blocks closer than 2 × context into hunks, as `diff -u` does, stopping at `maxChangedLines`. */
function buildHunks(oldLines: readonly string[], newLines: readonly string[], blocks: Block[], options: LineDiffOptions): { hunks: Hunk[]; cut: boolean } {
  const { context, maxChangedLines } = options;
  const hunks: Hunk[] = [];
  let budget = maxChangedLines;
  let hunk: (Hunk & { oldEnd: number }) | undefined;
  const close = () => {
    if (!hunk) return;
    const end = Math.min(oldLines.length, hunk.oldEnd + context);
    for (let index = hunk.oldEnd; index < end; index++) hunk.lines.push(` ${oldLines[index]}`);
    hunk.oldLines += end - hunk.oldEnd;
    hunk.newLines += end - hunk.oldEnd;
    const { oldEnd: _, ...done } = hunk;
    hunks.push(done);
    hunk = undefined;
  };
  for (const block of blocks) {
    if (budget <= 0) {
      close();
      return { hunks, cut: true };
    }
    if (hunk && block.oldFrom - hunk.oldEnd > 2 * context) close();
    if (!hunk) {
      const lead = Math.min(context, block.oldFrom, block.newFrom);
      hunk = { oldStart: block.oldFrom - lead + 1, oldLines: 0, newStart: block.newFrom - lead + 1, newLines: 0, lines: [], oldEnd: block.oldFrom - lead };
    }
    const equal = block.oldFrom - hunk.oldEnd;
    for (let index = hunk.oldEnd; index < block.oldFrom; index++) hunk.lines.push(` ${oldLines[index]}`);
    const removed = Math.min(block.oldTo - block.oldFrom, budget);
    for (let index = block.oldFrom; index < block.oldFrom + removed; index++) hunk.lines.push(`-${oldLines[index]}`);
    budget -= removed;
    const added = Math.min(block.newTo - block.newFrom, budget);
    for (let index = block.newFrom; index < block.newFrom + added; index++) hunk.lines.push(`+${newLines[index]}`);
    budget -= added;
    hunk.oldLines += equal + removed;
    hunk.newLines += equal + added;
    hunk.oldEnd = block.oldTo;
    if (removed < block.oldTo - block.oldFrom || added < block.newTo - block.newFrom) {
      // Cut inside the block: no trailing context, which would not follow the last printed line.
      const { oldEnd: _, ...done } = hunk;
      hunks.push(done);
      return { hunks, cut: true };
    }
  }
  close();
  return { hunks, cut: false };
}
