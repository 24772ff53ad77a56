import { describe, expect, it } from 'vitest';
import { nameAlternation } from '../../src/secrets/name-alternation.js';
import { DEFAULT_SECRET_KEYS, normalizeSecretKey } from '../../src/secrets/policy.js';

const exactly = (names: string[], flags = 'i') => new RegExp(`^(?:${nameAlternation(names)})$`, flags);

describe('nameAlternation', () => {
  it('factors shared prefixes and keeps names that are prefixes of others', () => {
    expect(nameAlternation(['password', 'passwd', 'passphrase'])).toBe('pass(?:w(?:ord|d)|phrase)');
    expect(nameAlternation(['key', 'keys'])).toBe('keys?');
    expect(nameAlternation(['token', 'tokens_x'])).toBe('token(?:s[-_]?x)?');
  });

  it('matches every name, with - or _, and nothing else', () => {
    const names = [...new Set(DEFAULT_SECRET_KEYS.map(normalizeSecretKey))];
    const re = exactly(names);
    for (const name of names) {
      expect(re.test(name)).toBe(true);
      expect(re.test(name.replaceAll('_', '-'))).toBe(true);
      expect(re.test(name.toUpperCase())).toBe(true);
      expect(re.test(`${name}x`)).toBe(false);
      expect(re.test(name.slice(0, -1))).toBe(names.includes(name.slice(0, -1)));
    }
  });

  it('escapes RegExp syntax and works with the u flag', () => {
    const re = exactly(['a.b', 'c+d', 'x-y', 'pässwört', '(?)'], 'iu');
    expect(['a.b', 'C+D', 'x-y', 'PÄSSWÖRT', '(?)'].every((name) => re.test(name))).toBe(true);
    expect(['axb', 'ccd', 'x_y', '?'].some((name) => re.test(name))).toBe(false);
  });
});
