import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, parseLeaf, type SealedEntry } from '../../src/seal/canonical.js';
import { compareRange, EntryCursor, type RangeContext } from '../../src/seal/compare.js';
import { crc32 } from 'node:zlib';
import { crc32Of, SealRowHasher } from '../../src/seal/row-hasher.js';

type Row = (string | null)[];

/** PostgreSQL's binary COPY of text columns: header, rows (field count, then length and bytes per field), end marker. */
function binaryCopy(rows: Row[]): Buffer {
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const value of row) {
      const length = Buffer.alloc(4);
      const bytes = value === null ? Buffer.alloc(0) : Buffer.from(value, 'utf8');
      length.writeInt32BE(value === null ? -1 : bytes.length);
      parts.push(length, bytes);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

/** The documented encoding, written independently of the hasher. */
function expectedHash(row: Row): string {
  const hash = createHash('sha256');
  for (const value of row) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(value === null ? -1 : Buffer.byteLength(value));
    hash.update(length).update(value ?? '');
  }
  return hash.digest('hex');
}

const rows: Row[] = [
  ['1', '2026-01-01T00:00:00.000001Z', 'alice', 'update', 'route', 'r1', null, '10.0.0.7/32', 'api', '{"a": 1}', '{"a": 2}'],
  ['2', '2026-01-01T00:00:00.000001Z', 'zoë ✓', 'create', 'ssl', 's"1', 'tab\there', null, null, null, `{"big": "${'x'.repeat(3000)}"}`],
  ['3', '2026-01-02T00:00:00.000000Z', '', '', '', '', '', '', '', '', ''],
];

function hashAll(chunks: Buffer[]): { hasher: SealRowHasher; values: number; lines: string } {
  const hasher = new SealRowHasher();
  let values = 0;
  let lines = '';
  for (const chunk of chunks) {
    hasher.push(chunk, () => (values += 1));
    lines += hasher.takeLines().toString('utf8');
  }
  return { hasher, values, lines };
}

describe('SealRowHasher', () => {
  const data = binaryCopy(rows);
  const whole = hashAll([data]);

  it('hashes each row as the documented encoding and chains the seal over the entry hashes', () => {
    expect(whole.values).toBe(3);
    expect(whole.hasher.complete).toBe(true);
    const leaves = whole.lines.trim().split('\n').map((line) => parseLeaf(line) as SealedEntry);
    expect(leaves.map((leaf) => leaf.hash)).toEqual(rows.map(expectedHash));
    expect(leaves[1]).toMatchObject({ id: '2', timestamp: '2026-01-01T00:00:00.000001Z' });
    const seal = createHash('sha256').update(Buffer.from(GENESIS_HASH, 'hex'));
    for (const row of rows) seal.update(Buffer.from(expectedHash(row), 'hex'));
    expect(whole.hasher.digest()).toBe(seal.digest('hex'));
    expect(whole.hasher.first).toEqual({ id: '1', timestamp: '2026-01-01T00:00:00.000001Z' });
    expect(whole.hasher.count).toBe(3);
  });

  it('gives the same result whatever the messages cut: at every byte into two, and byte by byte', () => {
    for (let cut = 1; cut < data.length; cut += 1) {
      const split = hashAll([data.subarray(0, cut), data.subarray(cut)]);
      expect(split.lines, `cut at ${cut}`).toBe(whole.lines);
      expect(split.hasher.complete).toBe(true);
    }
    const bytes = hashAll([...data].map((byte) => Buffer.from([byte])));
    expect(bytes.lines).toBe(whole.lines);
    expect(bytes.hasher.digest()).toBe(hashAll([data]).hasher.digest());
  });

  it('computes the CRC-32 of zlib in place for short fields', () => {
    const bytes = Buffer.from('\u0000\u0000\u0000\u0005zoë ✓ and a longer tail to cross the native threshold of sixty-four bytes..', 'utf8');
    for (let end = 0; end <= bytes.length; end += 1) expect(crc32Of(bytes, 0, end)).toBe(crc32(bytes.subarray(0, end)));
  });

  it('is incomplete without the end marker, and refuses another column count', () => {
    expect(hashAll([data.subarray(0, data.length - 2)]).hasher.complete).toBe(false);
    expect(() => hashAll([binaryCopy([['1', '2']])])).toThrow(/expected 11 columns, got 2/);
  });
});

describe('compareRange', () => {
  const leaf = (id: string, timestamp: string, hash = `h${id}`, fields = '0'.repeat(88)): SealedEntry => ({ id, timestamp, hash, fields });
  const cursor = (entries: SealedEntry[]) => new EntryCursor((async function* () { yield entries; })());
  const context = (extra: Partial<RangeContext> = {}): RangeContext => ({ archived: new Map(), previousHash: GENESIS_HASH, before: null, ...extra });
  async function* leaves(entries: SealedEntry[]) {
    yield* entries;
  }
  const t = (n: number) => `2026-01-0${n}T00:00:00.000000Z`;
  const sealed = [leaf('1', t(1)), leaf('2', t(1)), leaf('3', t(2)), leaf('4', t(3)), leaf('5', t(4))];

  it('matches ties by id, whatever their order, and finds nothing in an untouched range', async () => {
    const database = [sealed[1], sealed[0], ...sealed.slice(2)] as SealedEntry[];
    const result = await compareRange(leaves(sealed), cursor(database), t(5), context());
    expect(result.problems).toEqual([]);
    expect(result.present).toBe(5);
  });

  it('names modified fields, a deletion with its neighbours, an insertion, and a moved timestamp once', async () => {
    const changed = leaf('2', t(1), 'other', `${'0'.repeat(80)}ffffffff`);
    const moved = leaf('4', t(3).replace('00.000000', '01.000000'), 'moved', `00000000ffffffff${'0'.repeat(72)}`);
    const database = [sealed[0], changed, moved, leaf('9', t(2)), sealed[4]] as SealedEntry[];
    const result = await compareRange(leaves(sealed), cursor(database), t(5), context());
    expect(result.problems).toEqual(expect.arrayContaining([
      { kind: 'modified', id: '2', timestamp: t(1), fields: ['after'] },
      { kind: 'modified', id: '4', timestamp: t(3), fields: ['timestamp'] },
      { kind: 'deleted', position: 3, id: '3', timestamp: t(2), previous: { id: '2', timestamp: t(1) }, next: { id: '4', timestamp: t(3) } },
      { kind: 'inserted', id: '9', timestamp: t(2) },
    ]));
    expect(result.problems).toHaveLength(4);
  });

  it('takes entries gone before a signed prune cutoff as pruned, and checks an archived copy', async () => {
    const archived = new Map([['1', { file: 'a.ndjson', hash: 'h1' }], ['2', { file: 'a.ndjson', hash: 'not-h2' }]]);
    const result = await compareRange(leaves(sealed), cursor(sealed.slice(3)), t(5), context({ pruneCutoff: t(3), archived }));
    expect(result.pruned).toBe(3);
    expect(result.archived).toBe(2);
    expect(result.problems).toEqual([{ kind: 'archive-mismatch', id: '2', timestamp: t(1), archive: 'a.ndjson' }]);
  });
});
