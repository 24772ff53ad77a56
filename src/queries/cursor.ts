import { UsageError } from '../errors.js';
import type { Position } from '../db/entry-columns.js';

/**
 * `--cursor` values are opaque to users but simple inside: the (timestamp, id) position of the last entry shown,
 * base64url-encoded so it survives shells and URLs.
 */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.timestamp, position.id])).toString('base64url');
}

export function decodeCursor(value: string): Position {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [timestamp, id] = parsed as unknown[];
      if (typeof timestamp === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(timestamp))) {
        return { timestamp, id };
      }
    }
  } catch {
    // fall through to the usage error
  }
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  throw new UsageError(`invalid --cursor '${shown}': use the value printed after the previous page`);
}
