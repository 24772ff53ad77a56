import { describe, expect, it } from 'vitest';
import { CopyBinaryReader } from '../../src/db/copy-binary.js';
import { seededRandom } from '../support/random.js';

/** A binary COPY stream of one text column, as PostgreSQL writes it. */
function copyStream(values: string[], extension = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(19 + extension.length);
  header.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  header.writeUInt32BE(0, 11);
  header.writeUInt32BE(extension.length, 15);
  extension.copy(header, 19);
  const rows = values.map((value) => {
    const bytes = Buffer.from(value);
    const row = Buffer.alloc(6 + bytes.length);
    row.writeInt16BE(1, 0);
    row.writeInt32BE(bytes.length, 2);
    bytes.copy(row, 6);
    return row;
  });
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1, 0);
  return Buffer.concat([header, ...rows, trailer]);
}

function readAll(chunks: Buffer[]): { values: string[]; complete: boolean } {
  const reader = new CopyBinaryReader();
  const values: string[] = [];
  for (const chunk of chunks) reader.push(chunk, (buffer, start, end) => values.push(buffer.toString('utf8', start, end)));
  return { values, complete: reader.complete };
}

const VALUES = ['{"id":"1"}', '', 'caf\u00e9 \u4e2d \u{1F600}', 'x'.repeat(300), '{"a":"\\\\\\""}'];

describe('CopyBinaryReader', () => {
  it('reads every value whole however the stream is cut: at every single offset, and at random ones', () => {
    const stream = copyStream(VALUES, Buffer.from('ext'));
    for (let cut = 0; cut <= stream.length; cut += 1) {
      expect(readAll([stream.subarray(0, cut), stream.subarray(cut)]), `cut at ${cut}`).toEqual({ values: VALUES, complete: true });
    }
    const random = seededRandom(7);
    for (let round = 0; round < 200; round += 1) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = 1 + Math.floor(random() * 40);
        chunks.push(stream.subarray(at, at + size));
        at += size;
      }
      expect(readAll(chunks)).toEqual({ values: VALUES, complete: true });
    }
  });

  it('is not complete until the end marker, and rejects what a one-column text COPY cannot hold', () => {
    const stream = copyStream(VALUES);
    expect(readAll([stream.subarray(0, stream.length - 2)])).toEqual({ values: VALUES, complete: false });
    const twoColumns = Buffer.from(stream);
    twoColumns.writeInt16BE(2, 19);
    expect(() => readAll([twoColumns])).toThrow(/expected 1 column, got 2/);
    const nullValue = copyStream(['a']);
    nullValue.writeInt32BE(-1, 21);
    expect(() => readAll([nullValue.subarray(0, 25)])).toThrow(/NULL/);
    expect(() => readAll([Buffer.from('1\t{"id":"1","text":"copy in text format"}\n')])).toThrow(/not in binary format/);
    expect(() => readAll([Buffer.concat([stream, Buffer.from([0, 1])])])).toThrow(/after the end marker/);
  });
});
