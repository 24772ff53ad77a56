import { describe, expect, it } from 'vitest';
import { timestampTokenMs } from '../../src/timestamp-token.js';
import { seededRandom } from '../support/random.js';

const epochMs = (text: string) => Date.parse(text);
const LOW = Date.UTC(100, 0, 1);
const HIGH = Date.UTC(9999, 11, 31);

describe('timestampTokenMs', () => {
  it('gives what Date.parse gives for 20,000 random timestamps in the export format, or leaves them to it', () => {
    const random = seededRandom(11);
    let fast = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const ms = Math.floor(LOW + random() * (HIGH - LOW));
      const iso = new Date(ms).toISOString();
      const text = `${iso.slice(0, 23)}${String(Math.floor(random() * 1000)).padStart(3, '0')}Z`;
      const value = timestampTokenMs(JSON.stringify(text));
      if (value === undefined) continue;
      fast += 1;
      expect(value, text).toBe(epochMs(text));
    }
    expect(fast).toBeGreaterThan(10_000);
  });

  it('refuses every other form instead of guessing', () => {
    for (const token of ['null', '"2026-11-25T18:54:49.014123"', '"2026-11-25 18:54:49.014123Z"', '"2026-13-25T18:54:49.014123Z"',
      '"2026-11-31T18:54:49.014123Z"', '"2026-02-29T18:54:49.014123Z"', '"2100-02-29T00:00:00.000000Z"', '"2026-04-31T00:00:00.000000Z"',
      '"2026-11-00T18:54:49.014123Z"', '"2026-11-25T24:00:00.000000Z"', '"0099-11-25T18:54:49.014123Z"', '"2026-11-25T18:54:49.01412xZ"',
      '"+02026-11-25T18:54:49.014Z"', '"2026-1a-25T18:54:49.014123Z"', '2026-11-25T18:54:49.014123Z']) {
      expect(timestampTokenMs(token), token).toBeUndefined();
    }
    expect(timestampTokenMs('"2026-11-25T18:54:49.014999Z"')).toBe(Date.parse('2026-11-25T18:54:49.014Z'));
    expect(timestampTokenMs('"1969-12-28T23:59:59.999999Z"')).toBe(Date.parse('1969-12-28T23:59:59.999Z'));
    // The last days of months, leap days included, read by position as Date.parse reads them.
    for (const day of ['2026-11-29', '2026-11-30', '2026-12-31', '2024-02-29', '2000-02-29', '1600-02-29', '0100-03-01', '9999-12-31']) {
      expect(timestampTokenMs(`"${day}T23:59:59.999999Z"`), day).toBe(Date.parse(`${day}T23:59:59.999Z`));
    }
  });

  it('refuses a character that is not a digit in any digit position, whichever it is', () => {
    const token = '"2026-11-25T18:54:49.014123Z"';
    const positions = [...token].flatMap((char, at) => (char >= '0' && char <= '9' ? [at] : []));
    expect(positions).toHaveLength(20);
    for (const at of positions) {
      for (const other of ['/', ':', 'a', ' ', '-', '.', '\u0660', '\u00b2']) {
        const bad = `${token.slice(0, at)}${other}${token.slice(at + 1)}`;
        expect(timestampTokenMs(bad), bad).toBeUndefined();
      }
    }
  });
});
