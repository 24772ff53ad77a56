import { describe, expect, it } from 'vitest';
import { compareInstants, isOutOfRange, normalizeInstant, parseInstant, postgresTimestampText } from '../../src/config/instant.js';
import { formatTime } from '../../src/output/time-zone.js';

// Timestamps outside years 1-9999 as entries print them: ISO 8601's expanded year (a sign and six digits, BC years
// astronomical: 44 BC is -000043, 1 BC 0000), read back from cursors and checkpoints, and bound as PostgreSQL reads it.

describe('instants with expanded years', () => {
  it('normalize as Date writes them and order in time, BC before AD', () => {
    expect(normalizeInstant('-000043-03-15T12:00:00.5Z')).toBe('-000043-03-15T12:00:00.500000Z');
    expect(normalizeInstant('0000-12-31T23:59:59Z')).toBe('0000-12-31T23:59:59.000000Z');
    expect(normalizeInstant('+012026-01-01T00:00:00Z')).toBe('+012026-01-01T00:00:00.000000Z');
    expect(normalizeInstant('9999-12-31T23:30:00-01:00')).toBe('+010000-01-01T00:30:00.000000Z');
    const order = ['-004712-11-24T00:00:00.000000Z', '-000043-03-15T12:00:00.500000Z', '0000-12-31T23:59:59.999999Z', '0001-01-01T00:00:00.000000Z', '+012026-01-01T00:00:00.000000Z'];
    for (let n = 1; n < order.length; n += 1) expect(compareInstants(order[n - 1] as string, order[n] as string)).toBeLessThan(0);
  });

  it('refuses -000000, a year before PostgreSQL 4713 BC, and four-digit years with a sign', () => {
    for (const bad of ['-000000-01-01T00:00:00Z', '-004713-01-01T00:00:00Z', '-0043-03-15T12:00:00Z', '+2026-01-01T00:00:00Z', '12026-01-01T00:00:00Z']) {
      expect(parseInstant(bad), bad).toBeUndefined();
    }
  });

  it("hold PostgreSQL's first instant (4714 BC, Nov 24) and Date's last, not a microsecond beyond either", () => {
    expect(normalizeInstant('-004713-11-24T00:00:00Z')).toBe('-004713-11-24T00:00:00.000000Z');
    expect(normalizeInstant('-004713-11-24T01:00:00+01:00')).toBe('-004713-11-24T00:00:00.000000Z');
    expect(normalizeInstant('+275760-09-13T00:00:00Z')).toBe('+275760-09-13T00:00:00.000000Z');
    for (const outside of ['-004713-11-23T23:59:59.999999Z', '-004713-11-24T00:00:00+00:01', '+275760-09-13T00:00:00.000001Z', '+275760-09-12T23:00:00-01:01', '+294276-12-31T00:00:00Z']) {
      expect([parseInstant(outside), isOutOfRange(outside)], outside).toEqual([undefined, true]);
    }
    // Not out of range: not a time at all.
    for (const bad of ['-000000-01-01T00:00:00Z', '-000043-02-29T00:00:00Z', '+300000-13-01T00:00:00Z']) expect(isOutOfRange(bad), bad).toBe(false);
    expect(normalizeInstant('-000044-02-29T00:00:00Z')).toBe('-000044-02-29T00:00:00.000000Z');
  });

  it('are bound as PostgreSQL reads them: the BC year with its era, a large year without its sign', () => {
    expect(postgresTimestampText('-000043-03-15T12:00:00.500000Z')).toBe('0044-03-15T12:00:00.500000Z BC');
    expect(postgresTimestampText('0000-12-31T23:59:59.000000Z')).toBe('0001-12-31T23:59:59.000000Z BC');
    expect(postgresTimestampText('-004712-11-24T00:00:00.000000Z')).toBe('4713-11-24T00:00:00.000000Z BC');
    expect(postgresTimestampText('+012026-01-01T00:00:00.000000Z')).toBe('12026-01-01T00:00:00.000000Z');
    expect(postgresTimestampText('0001-01-01T00:00:00.000000Z')).toBe('0001-01-01T00:00:00.000000Z');
  });

  it('print in the table in the same form, in UTC and in a zone', () => {
    expect(formatTime('-000043-03-15T12:00:00.500000Z')).toBe('-000043-03-15 12:00:00');
    expect(formatTime('-000043-03-15T12:00:00.500000Z', 'Etc/GMT-9')).toBe('-000043-03-15 21:00:00');
    expect(formatTime('0000-12-31T23:00:00.000000Z', 'Etc/GMT-9')).toBe('0001-01-01 08:00:00');
    expect(formatTime('0001-01-01T03:00:00.000000Z', 'Etc/GMT+9')).toBe('0000-12-31 18:00:00');
    expect(formatTime('9999-12-31T20:00:00.000000Z', 'Etc/GMT-9')).toBe('+010000-01-01 05:00:00');
    // Before standard time, a zone's local mean time, to the second.
    expect(formatTime('-000043-03-15T12:00:00.000000Z', 'Asia/Tokyo')).toBe('-000043-03-15 21:18:59');
  });
});
