import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { CANONICAL_FIELDS } from '../../src/domain.js';
import { csvHeader, csvRow } from '../../src/output/csv.js';
import { createEntryWriter, type StreamFormat } from '../../src/output/writers.js';
import { makeEntry } from './output-fixtures.js';

/** A Writable that keeps what it gets; `hold` keeps write callbacks pending so the buffer stays full. */
function createSink(highWaterMark = 16 * 1024) {
  const chunks: string[] = [];
  const pending: (() => void)[] = [];
  let hold = false;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      if (hold) pending.push(() => callback());
      else callback();
    },
  });
  return {
    stream,
    text: () => chunks.join(''),
    hold: () => (hold = true),
    release: () => {
      hold = false;
      for (const callback of pending.splice(0)) callback();
    },
  };
}

async function writeAll(format: StreamFormat, entries: ReturnType<typeof makeEntry>[]): Promise<string> {
  const sink = createSink();
  const writer = createEntryWriter(format, sink.stream);
  for (const entry of entries) await writer.write(entry);
  await writer.end();
  return sink.text();
}

const entries = [makeEntry(), makeEntry({ id: '43', before: null, operator: 'line\nbreak' })];
/** Keys in reverse order plus one that is not canonical: the writer must put them back in canonical order. */
const reordered = {
  extra: 'dropped',
  ...(Object.fromEntries(Object.entries(makeEntry({ id: '44' })).reverse()) as ReturnType<typeof makeEntry>),
};

describe('createEntryWriter', () => {
  it('writes a JSON array of canonical entries, one per line, and [] when empty', async () => {
    const text = await writeAll('json', [...entries, reordered]);
    const parsed = JSON.parse(text) as Record<string, unknown>[];
    expect(parsed).toHaveLength(3);
    for (const entry of parsed) expect(Object.keys(entry)).toEqual([...CANONICAL_FIELDS]);
    expect(parsed[1]).toEqual(entries[1]);
    expect(text.split('\n')).toHaveLength(3 + 3);
    expect(await writeAll('json', [])).toBe('[]\n');
  });

  it('writes NDJSON, one compact canonical object per line', async () => {
    const lines = (await writeAll('ndjson', [...entries, reordered])).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([...entries, makeEntry({ id: '44' })]);
    expect(await writeAll('ndjson', [])).toBe('');
  });

  it('writes the CSV header then the rows, and the header alone when empty', async () => {
    expect(await writeAll('csv', entries)).toBe(csvHeader() + entries.map(csvRow).join(''));
    expect(await writeAll('csv', [])).toBe(csvHeader());
  });

  it('waits for drain when the stream is full, so memory stays constant', async () => {
    const sink = createSink(1);
    const writer = createEntryWriter('ndjson', sink.stream);
    sink.hold();
    let settled = false;
    const pending = writer.write(entries[0]!).then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    sink.release();
    await pending;
    expect(settled).toBe(true);
    await writer.end();
  });

  it('rejects instead of hanging when the stream fails while full', async () => {
    const sink = createSink(1);
    const writer = createEntryWriter('json', sink.stream);
    sink.hold();
    const pending = writer.write(entries[0]!);
    sink.stream.destroy(new Error('EPIPE'));
    await expect(pending).rejects.toThrow('EPIPE');
  });

  it('rejects when the stream is closed while full, or was closed before', async () => {
    const sink = createSink(1);
    const writer = createEntryWriter('ndjson', sink.stream);
    sink.hold();
    const pending = writer.write(entries[0]!);
    sink.stream.destroy();
    await expect(pending).rejects.toThrow(/closed/);
    await expect(writer.write(entries[1]!)).rejects.toThrow(/closed/);
  });

  it('refuses writes after end', async () => {
    const writer = createEntryWriter('csv', createSink().stream);
    await writer.end();
    await expect(writer.write(entries[0]!)).rejects.toThrow(/after end/);
  });
});
