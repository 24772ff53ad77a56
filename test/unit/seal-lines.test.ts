import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fileLines } from '../../src/seal/lines.js';

const collect = async (chunks: (string | Buffer)[]) => {
  const lines: string[] = [];
  for await (const line of fileLines(Readable.from(chunks))) lines.push(line);
  return lines;
};

describe('fileLines (seal leaves and archives)', () => {
  it('ends lines at \\n only: U+2028, U+2029 and U+0085 stay inside them, on every Node.js', async () => {
    expect(await collect(['["a\u2028b","x"]\n["c\u2029d"]\n', '["e\u0085f"]'])).toEqual(['["a\u2028b","x"]', '["c\u2029d"]', '["e\u0085f"]']);
  });

  it('joins a line and a character split across chunks, and drops the \\r of CRLF', async () => {
    const bytes = Buffer.from('["é\u2028"]\r\n[2]\n');
    expect(await collect([bytes.subarray(0, 3), bytes.subarray(3, 9), bytes.subarray(9)])).toEqual(['["é\u2028"]', '[2]']);
    expect(await collect([])).toEqual([]);
  });
});
