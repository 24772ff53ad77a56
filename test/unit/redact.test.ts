import { describe, expect, it } from 'vitest';
import { MIN_SECRET_LENGTH, redactValues } from '../../src/secrets/redact.js';

describe('redactValues', () => {
  it('replaces whole values only, never part of a longer word', () => {
    expect(redactValues('Invalid authorization; token authoriz refused', ['authoriz'])).toBe('Invalid authorization; token ****** refused');
    expect(redactValues('postgresql://h and postgres8 and "s3cretpass"', ['s3cretpass', 'postgres8'])).toBe('postgresql://h and ****** and "******"');
    expect(redactValues('xs3cretpass s3cretpassx s3cretpass', ['s3cretpass'])).toBe('xs3cretpass s3cretpassx ******');
  });

  it('an escape just before a value ends the word before it', () => {
    expect(redactValues('token%3Ds3cretpass&x=1 and "\\ns3cretpass" and \\u00e9s3cretpass', ['s3cretpass'])).toBe(
      'token%3D******&x=1 and "\\n******" and \\u00e9******',
    );
  });

  it('values that begin or end with punctuation need no boundary on that side', () => {
    expect(redactValues('key=abcdEFGH+/==tail', ['abcdEFGH+/=='])).toBe('key=******tail');
    expect(redactValues('/p@ss/word!x', ['/p@ss/word!'])).toBe('******x');
  });

  it(`never redacts values shorter than ${MIN_SECRET_LENGTH} characters`, () => {
    expect(redactValues('Invalid token', ['tok', 'oken', 'token12'])).toBe('Invalid token');
    expect(redactValues('a tok b', ['tok'])).toBe('a tok b');
  });

  it('repeated and adjacent occurrences', () => {
    expect(redactValues('s3cretpass,s3cretpass s3cretpass', ['s3cretpass'])).toBe('******,****** ******');
  });
});
