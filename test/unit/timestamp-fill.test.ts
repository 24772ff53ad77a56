import { describe, expect, it } from 'vitest';
import { fillTimestamp, TIMESTAMP_PLACEHOLDER } from '../../src/db/timestamp-fill.js';

/** A row as the export's COPY sends it: the timestamp's eight bytes, then the entry with `text` as its timestamp. */
function row(micros: bigint, text: string, id = '"7"'): { buffer: Buffer; start: number; end: number } {
  const entry = Buffer.from(`{"id":${id},"timestamp":"${text}","operator":"a"}`, 'latin1');
  const buffer = Buffer.alloc(8 + entry.length);
  buffer.writeBigInt64BE(micros, 0);
  entry.copy(buffer, 8);
  return { buffer, start: 8, end: buffer.length };
}

const DAY = 86_400_000_000n;
const filled = (micros: bigint, id?: string) => {
  const { buffer, start, end } = row(micros, TIMESTAMP_PLACEHOLDER, id);
  fillTimestamp(buffer, start, end, 0);
  return JSON.parse(buffer.toString('latin1', start, end)).timestamp as string;
};

describe('fillTimestamp', () => {
  it('writes what Date writes, to the microsecond, over the whole range of the placeholder', () => {
    const first = -36_524n * DAY; // 1900-01-01
    const end = 73_049n * DAY; // 2200-01-01
    expect(filled(first)).toBe('1900-01-01T00:00:00.000000Z');
    expect(filled(end - 1n)).toBe('2199-12-31T23:59:59.999999Z');
    expect(filled(0n)).toBe('2000-01-01T00:00:00.000000Z');
    expect(filled(-1n)).toBe('1999-12-31T23:59:59.999999Z');
    for (let micros = first; micros < end; micros += 7_654_321_987_654n) {
      const ms = Number(micros / 1000n) + Date.UTC(2000, 0, 1) - (micros < 0n && micros % 1000n !== 0n ? 1 : 0);
      const fraction = String(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n).padStart(6, '0');
      expect(filled(micros)).toBe(`${new Date(ms).toISOString().slice(0, 19)}.${fraction}Z`);
    }
    expect(filled(5n * DAY, '"x\\",\\"timestamp\\":\\"1"')).toBe('2000-01-06T00:00:00.000000Z');
  });

  it('leaves a timestamp the server wrote (outside the range) as it is, and refuses a row in the range without the placeholder', () => {
    for (const [micros, text] of [[73_049n * DAY, '2200-01-01T00:00:00.000000Z'], [-36_524n * DAY - 1n, '1899-12-31T23:59:59.999999Z'], [2n ** 63n - 1n, 'x']] as const) {
      const { buffer, start, end } = row(micros, text);
      const before = Buffer.from(buffer);
      fillTimestamp(buffer, start, end, 0);
      expect(buffer.equals(before)).toBe(true);
    }
    const { buffer, start, end } = row(0n, '2000-01-01T00:00:00.000000Z');
    expect(() => fillTimestamp(buffer, start, end, 0)).toThrow(/no timestamp placeholder/);
    const cut = row(0n, TIMESTAMP_PLACEHOLDER);
    expect(() => fillTimestamp(cut.buffer, cut.start, cut.end - 20, 0)).toThrow(/no timestamp placeholder/);
  });
});
