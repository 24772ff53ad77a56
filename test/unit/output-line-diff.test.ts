import { describe, it, expect } from 'vitest';
import { applyPatch, structuredPatch } from 'diff';
import { diffLines, type LineDiff } from '../../src/output/line-diff.js';
import { seededRandom } from '../support/random.js';

const text = (lines: string[]): string => lines.map((line) => `${line}\n`).join('');
const asPatch = (diff: LineDiff) => ({ oldFileName: 'a', newFileName: 'b', oldHeader: undefined, newHeader: undefined, hunks: diff.hunks });
const changed = (diff: LineDiff): number => diff.hunks.reduce((sum, hunk) => sum + hunk.lines.filter((line) => line[0] !== ' ').length, 0);

/** Random lines from a small alphabet (many repeats, as in JSON: `},`), then random edits of them. */
function randomPair(random: () => number): [string[], string[]] {
  const pick = () => ['a', 'b', 'c', '},', '{', `x${Math.floor(random() * 50)}`][Math.floor(random() * 6)] as string;
  const before = Array.from({ length: Math.floor(random() * 40) }, pick);
  const after = [...before];
  for (let edits = Math.floor(random() * 12); edits > 0; edits--) {
    const at = Math.floor(random() * (after.length + 1));
    const kind = random();
    if (kind < 0.4) after.splice(at, 1, pick());
    else if (kind < 0.7) after.splice(at, 0, pick());
    else after.splice(at, 1);
  }
  return [before, after];
}

describe('diffLines', () => {
  it('gives hunks that turn the old text into the new one, minimal while Myers fits, paired by position beyond', () => {
    const random = seededRandom(12);
    for (let round = 0; round < 2000; round++) {
      const [before, after] = randomPair(random);
      const context = round % 4;
      const maxEdits = round % 3 === 0 ? 2 : 1000;
      const diff = diffLines(before, after, { context, maxChangedLines: Infinity, maxEdits });
      expect(diff.cut).toBe(false);
      expect(applyPatch(text(before), asPatch(diff))).toBe(text(after));
      if (!diff.paired) {
        const reference = structuredPatch('a', 'b', text(before), text(after), undefined, undefined, { context });
        expect(changed(diff)).toBe(reference.hunks.reduce((sum, hunk) => sum + hunk.lines.filter((line) => line[0] !== ' ').length, 0));
      }
    }
  });

  it('is linear on 200,000 lines changed at every seventh, pairing them in place', () => {
    const before = Array.from({ length: 200_000 }, (_, index) => `    ${index},`);
    const after = before.map((line, index) => (index % 7 === 0 ? `    ${index + 1},` : line));
    const diff = diffLines(before, after, { context: 3, maxChangedLines: Infinity, maxEdits: 500 });
    expect(diff.paired).toBe(true);
    expect(diff.changedLines).toBe(2 * Math.ceil(200_000 / 7));
    expect(applyPatch(text(before), asPatch(diff))).toBe(text(after));
    // In place: each '-' line is followed by its own '+' line.
    expect(diff.hunks[0]?.lines.slice(0, 2)).toEqual(['-    0,', '+    1,']);
  });

  it('stops at maxChangedLines and says so, whether the limit falls between blocks or inside one', () => {
    const before = Array.from({ length: 100 }, (_, index) => `${index}`);
    const after = before.map((line, index) => (index % 10 === 0 ? `${line}!` : line));
    const between = diffLines(before, after, { context: 3, maxChangedLines: 6, maxEdits: 500 });
    expect(between).toMatchObject({ cut: true, changedLines: 20 });
    expect(changed(between)).toBe(6);
    const inside = diffLines(['a', 'b', 'c'], ['x', 'y', 'z'], { context: 3, maxChangedLines: 4, maxEdits: 500 });
    expect(inside.cut).toBe(true);
    expect(inside.hunks[0]?.lines).toEqual(['-a', '-b', '-c', '+x']);
    expect(inside.hunks[0]).toMatchObject({ oldLines: 3, newLines: 1 });
    expect(diffLines(['a'], ['b'], { context: 3, maxChangedLines: 2, maxEdits: 500 }).cut).toBe(false);
  });
});
