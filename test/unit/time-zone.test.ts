import { describe, expect, it } from 'vitest';
import { resolveTimeZone } from '../../src/output/time-zone.js';

describe('the TIME column zone', () => {
  it('is UTC unless asked', () => expect(resolveTimeZone(false, { TZ: 'Asia/Tokyo' })).toBeUndefined());
  it('API7_AUDIT_TZ wins, --local takes TZ', () => {
    expect(resolveTimeZone(false, { API7_AUDIT_TZ: 'Europe/Berlin' })).toBe('Europe/Berlin');
    expect(resolveTimeZone(true, { TZ: 'Asia/Tokyo' })).toBe('Asia/Tokyo');
    expect(resolveTimeZone(true, { TZ: ':Asia/Tokyo' })).toBe('Asia/Tokyo');
  });
  it('an unknown zone is a usage error naming it', () => {
    expect(() => resolveTimeZone(false, { API7_AUDIT_TZ: 'Mars/Base' })).toThrow("invalid API7_AUDIT_TZ 'Mars/Base'");
  });
});
