import { describe, expect, it } from 'vitest';
import { compareSealTimes } from '../../src/seal/canonical.js';

describe('compareSealTimes: leaf timestamps in time order', () => {
  it('sorts -infinity, BC (larger years first), AD, infinity, whatever their text order', () => {
    const inTime = [
      '-infinity',
      '4713-01-01T00:00:00.000000Z BC',
      '0044-03-15T10:00:00.000000Z BC',
      '0044-12-31T23:59:59.999999Z BC',
      '0001-06-01T12:00:00.000000Z BC',
      '0001-06-01T12:00:00.000000Z',
      '0044-03-15T10:00:00.000000Z',
      '2026-12-04T23:00:00.000000Z',
      '2026-12-04T23:00:00.000001Z',
      '10000-01-01T00:00:00.000000Z',
      'infinity',
    ];
    const shuffled = [...inTime].reverse();
    expect(shuffled.sort(compareSealTimes)).toEqual(inTime);
    for (const time of inTime) expect(compareSealTimes(time, time)).toBe(0);
  });
});
