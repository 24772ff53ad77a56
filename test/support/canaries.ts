import { expect } from 'vitest';
import type { CliResult } from './cli.js';

/**
 * Canaries for "no secret shown" attacks: each secret planted is `<PREFIX><n>x<where>`, so a leak names the secret
 * and where it was planted; `leaks(text)` lists the canaries a text shows.
 */
export function canaries(prefix: string): { canary: (where: string) => string; leaks: (text: string) => string[] } {
  let serial = 0;
  const pattern = new RegExp(`${prefix}\\d+x[A-Za-z0-9]*`, 'g');
  return {
    canary: (where) => `${prefix}${(serial += 1)}x${where.replace(/[^A-Za-z0-9]/g, '')}`,
    leaks: (text) => [...new Set(text.match(pattern) ?? [])],
  };
}

/** A command's stdout and stderr together: a secret may leak into either. */
export const bothStreams = (result: CliResult): string => result.stdout + result.stderr;

/** The result, after expecting exit 0 (its stderr as the message otherwise). */
export function succeeded(result: CliResult): CliResult {
  expect(result.code, result.stderr).toBe(0);
  return result;
}
