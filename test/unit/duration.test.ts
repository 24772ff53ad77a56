import { describe, expect, it } from 'vitest';
import { formatDuration, parseDurationFlag, tryParseDuration } from '../../src/config/duration.js';
import { checkTimeRange, parseSpanMs, parseTimeBound } from '../../src/config/time-bound.js';
import { UsageError } from '../../src/errors.js';

describe('one duration grammar', () => {
  it.each([
    ['90s', 90_000, '90 seconds'],
    ['10m', 600_000, '10 minutes'],
    ['2h30m', 9_000_000, '2 hours 30 minutes'],
    ['1.5h', 5_400_000, '1.5 hours'],
    ['7d', 604_800_000, '7 days'],
    ['7D', 604_800_000, '7 days'],
    ['2w', 1_209_600_000, '2 weeks'],
    ['500ms', 500, '500 milliseconds'],
    ['1m30s', 90_000, '1 minutes 30 seconds'],
  ])('%s is %d ms (%s)', (text, ms, interval) => {
    expect(tryParseDuration(text)).toEqual({ ms, interval });
    expect(parseTimeBound('--since', text)).toEqual({ kind: 'relative', interval });
  });

  it.each(['7', '10', '1.5'])('a bare number %s is refused everywhere, with a hint of units', (text) => {
    for (const parse of [() => parseTimeBound('--since', text), () => parseSpanMs('--max-duration', text), () => parseDurationFlag('--connect-timeout', text)]) {
      expect(parse).toThrow(UsageError);
      expect(parse).toThrow(`a duration needs a unit, such as ${text}s, ${text}m`);
    }
  });

  it.each(['', '7x', '7 d', '-7d', 'h', '1.h', '7d-'])('%j is not a duration', (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
    expect(() => parseSpanMs('--wait-lock', text)).toThrow(`invalid --wait-lock '${text}'`);
  });

  it('zero only where allowed, and a plain 0 needs no unit', () => {
    expect(parseSpanMs('--settle', '0', 0)).toBe(0);
    expect(parseSpanMs('--settle', '0s', 0)).toBe(0);
    expect(() => parseSpanMs('--max-duration', '0s')).toThrow("invalid --max-duration '0s': expected at least 1ms");
    expect(() => parseDurationFlag('--connect-timeout', '2d', { maxMs: 86_400_000 })).toThrow('expected at most 1d');
  });

  it('formats lengths for messages', () => {
    expect(formatDuration(9_000_000)).toBe('2h30m');
    expect(formatDuration(90_500)).toBe('1m30s500ms');
  });
});

describe('empty ranges', () => {
  const range = (since: string, until: string) => () => checkTimeRange({ flag: '--since', value: since }, { flag: '--until', value: until });
  it.each([
    ['1d', '7d'],
    ['7d', '7d'],
    ['2026-02-01', '2026-01-01'],
    ['2026-01-01T00:00:00Z', '2026-01-01T01:00:00+01:00'],
    ['1d', '2000-01-01'],
  ])('--since %s --until %s is refused naming both', (since, until) => {
    expect(range(since, until)).toThrow(UsageError);
    expect(range(since, until)).toThrow(`--since ${since} is not before --until ${until}`);
  });
  it.each([
    ['7d', '1d'],
    ['2026-01-01', '2026-02-01'],
    ['2000-01-01', '1d'],
  ])('--since %s --until %s is a range', (since, until) => expect(range(since, until)).not.toThrow());
});

describe("'M' is refused: months to some, minutes to others", () => {
  it.each(['6M', '1M', '2h30M', '1.5M'])('%s: not a duration, and the message says what to write', (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
    for (const parse of [() => parseTimeBound('--since', text), () => parseSpanMs('--max-duration', text), () => parseDurationFlag('--connect-timeout', text)]) {
      expect(parse).toThrow(UsageError);
      expect(parse).toThrow(/'M' is not a unit: months are not durations \(write \d+d for about [\d.]+ months\), and minutes are a lower-case m/);
    }
  });
  it.each([['500MS', 500], ['500Ms', 500], ['10m', 600_000], ['7D', 604_800_000]])('%s is still a duration', (text, ms) => {
    expect(tryParseDuration(text)?.ms).toBe(ms);
  });
});
