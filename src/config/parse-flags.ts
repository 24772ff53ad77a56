import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

import type { ResourceFilter } from '../domain.js';

/** Parses a positive whole number flag such as `--limit 50`. */
export function parsePositiveInt(flag: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1 || Number(trimmed) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? 'of at least 1' : `from 1 to ${max}`;
    throw new UsageError(`invalid ${flag} '${value}': expected a whole number ${range}`);
  }
  return Number(trimmed);
}

/**
 * Parses `--resource TYPE` or `--resource TYPE:ID` (the id may itself contain colons). Both parts are trimmed:
 * `route: r-1`, as people write it after a colon, matched nothing.
 */
export function parseResource(value: string): ResourceFilter {
  const colon = value.indexOf(':');
  const type = (colon < 0 ? value : value.slice(0, colon)).trim();
  const id = colon < 0 ? undefined : value.slice(colon + 1).trim();
  if (type === '' || id === '') {
    throw new UsageError(`invalid --resource '${value}': expected TYPE or TYPE:ID, for example route or route:r-123`);
  }
  return id === undefined ? { type } : { type, id };
}

/** Validates `--ip` as an IPv4/IPv6 address or CIDR block and returns it unchanged. */
export function parseIpFilter(value: string): string {
  const [address = '', prefix, extra] = value.trim().split('/');
  const family = isIP(address);
  const maxPrefix = family === 6 ? 128 : 32;
  const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
  if (family === 0 || !prefixOk || extra !== undefined) {
    throw new UsageError(`invalid --ip '${value}': expected an IPv4 or IPv6 address or CIDR block, such as 10.0.0.0/8`);
  }
  return value.trim();
}

/** Rejects empty strings for text filters such as `--operator ''`, which would silently match nothing. */
export function parseNonEmpty(flag: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`invalid ${flag} '': expected a non-empty value`);
  return value;
}
