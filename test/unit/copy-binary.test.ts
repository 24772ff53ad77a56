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

/** The export's two-column rows: a timestamp's eight bytes (null: none), then the entry's text. */
function timedStream(rows: [bigint | null, string][]): Buffer {
  const header = Buffer.alloc(19);
  header.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  const body = rows.map(([time, text]) => {
    const bytes = Buffer.from(text);
    const row = Buffer.alloc(2 + 4 + (time === null ? 0 : 8) + 4 + bytes.length);
    row.writeInt16BE(2, 0);
    row.writeInt32BE(time === null ? -1 : 8, 2);
    if (time !== null) row.writeBigInt64BE(time, 6);
    const at = time === null ? 6 : 14;
    row.writeInt32BE(bytes.length, at);
    bytes.copy(row, at + 4);
    return row;
  });
  return Buffer.concat([header, ...body, Buffer.from([0xff, 0xff])]);
}

describe('CopyBinaryReader with a leading timestamp', () => {
  const rows: [bigint | null, string][] = [[1n, '{"id":"1"}'], [null, 'caf\u00e9'], [-(2n ** 62n), ''], [2n ** 40n + 7n, 'x'.repeat(70)]];

  it('hands each row to fill with its timestamp bytes, then on, however the stream is cut', () => {
    const length = timedStream(rows).length;
    for (let cut = 0; cut <= length; cut += 1) {
      const stream = timedStream(rows); // fill writes into it
      const seen: [bigint | null, string][] = [];
      const values: string[] = [];
      const reader = new CopyBinaryReader((buffer, start, end, valueAt) => {
        seen.push([valueAt < 0 ? null : buffer.readBigInt64BE(valueAt), buffer.toString('utf8', start, end)]);
        if (end > start) buffer[start] = 0x2a; // what fill writes is what goes on
      });
      for (const chunk of [stream.subarray(0, cut), stream.subarray(cut)]) reader.push(chunk, (buffer, start, end) => values.push(buffer.toString('utf8', start, end)));
      expect(seen, `cut at ${cut}`).toEqual(rows);
      expect(values).toEqual(rows.map(([, text]) => (text === '' ? '' : `*${text.slice(1)}`)));
      expect(reader.complete).toBe(true);
    }
  });

  it('rejects a row of another shape', () => {
    const fill = () => undefined;
    const one = Buffer.from(timedStream(rows));
    one.writeInt16BE(1, 19);
    expect(() => new CopyBinaryReader(fill).push(one, () => undefined)).toThrow(/expected 2 columns, got 1/);
    const wide = Buffer.from(timedStream(rows));
    wide.writeInt32BE(4, 21);
    expect(() => new CopyBinaryReader(fill).push(wide, () => undefined)).toThrow(/a timestamp of 4 bytes/);
  });
});
