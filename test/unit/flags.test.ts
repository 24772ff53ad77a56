import { describe, expect, it } from 'vitest';
import { parseDuration, parseTimeBound } from '../../src/config/time-bound.js';
import { parseIpFilter, parsePositiveInt, parseResource } from '../../src/config/parse-flags.js';
import { decodeCursor, encodeCursor } from '../../src/queries/cursor.js';
import { UsageError } from '../../src/errors.js';

describe('time bounds', () => {
  it.each([
    ['30m', '30 minutes'],
    ['24h', '24 hours'],
    ['7d', '7 days'],
    ['2w', '2 weeks'],
    ['90s', '90 seconds'],
  ])('%s is a duration of %s', (text, interval) => {
    expect(parseDuration(text)).toBe(interval);
    expect(parseTimeBound('--since', text)).toEqual({ kind: 'relative', interval });
  });

  it.each([
    ['2026-01-31', '2026-01-31T00:00:00Z'],
    ['2026-01-31T12:30:00Z', '2026-01-31T12:30:00Z'],
    ['2026-01-31T12:30', '2026-01-31T12:30:00Z'],
    ['2026-01-31 12:30:05.123456+02:00', '2026-01-31T12:30:05.123456+02:00'],
  ])('ISO %s is absolute', (text, iso) => {
    expect(parseTimeBound('--until', text)).toEqual({ kind: 'absolute', iso });
  });

  it.each(['7x', '', '-7d', 'yesterday', '2026-02-31', '2026-13-01', '7 d', '7'])('%j is a usage error naming it', (text) => {
    expect(() => parseTimeBound('--since', text)).toThrow(UsageError);
    expect(() => parseTimeBound('--since', text)).toThrow(`invalid --since '${text}'`);
  });
});

describe('filter values', () => {
  it.each(['10.0.0.1', '10.0.0.0/8', '2001:db8::1', '2001:db8::/32', '::/0', '0.0.0.0/0'])('%s is a valid IP filter', (ip) => {
    expect(parseIpFilter(ip)).toBe(ip);
  });
  it.each(['999.1.1.1', '10.0.0.0/33', '2001:db8::/129', 'abc', '10.0.0.1/8/1', '10.0.0.0/'])('%s is rejected', (ip) => {
    expect(() => parseIpFilter(ip)).toThrow(`invalid --ip '${ip}'`);
  });
  it('parses resources with and without ids, ids may hold colons', () => {
    expect(parseResource('route')).toEqual({ type: 'route' });
    expect(parseResource('route:r-1')).toEqual({ type: 'route', id: 'r-1' });
    expect(parseResource('plugin:a:b')).toEqual({ type: 'plugin', id: 'a:b' });
    expect(parseResource('route : r-1 ')).toEqual({ type: 'route', id: 'r-1' });
    expect(() => parseResource('route: ')).toThrow(UsageError);
    expect(() => parseResource('route:')).toThrow(UsageError);
    expect(() => parseResource(':x')).toThrow(UsageError);
  });
  it.each(['0', '-5', '1.5', 'ten', ''])('--limit %j is rejected', (value) => {
    expect(() => parsePositiveInt('--limit', value)).toThrow(`invalid --limit '${value}'`);
  });
  it('accepts positive whole numbers', () => expect(parsePositiveInt('--limit', '250')).toBe(250));
});

describe('cursors', () => {
  it('round-trip a position exactly, microseconds and big ids included', () => {
    const position = { timestamp: '2026-11-25T18:54:49.014123Z', id: '9223372036854775807' };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
  });
  it.each(['garbage', encodeCursor({ timestamp: 'not a time', id: '1' }), Buffer.from('[1,2]').toString('base64url')])(
    'reject %s',
    (value) => expect(() => decodeCursor(value)).toThrow(UsageError),
  );
});
