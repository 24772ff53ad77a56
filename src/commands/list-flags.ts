import { UsageError } from '../errors.js';
import { parseFilterFlags, type FilterFlags } from '../config/filter-flags.js';
import { parsePositiveInt } from '../config/parse-flags.js';
import { decodeCursor } from '../queries/cursor.js';
import type { OutputFormat } from '../output/print-entries.js';
import type { ListOptions } from './list.js';

export interface ListFlags extends FilterFlags {
  limit?: string;
  all?: boolean;
  order: 'asc' | 'desc';
  cursor?: string;
  output?: OutputFormat;
  json?: boolean;
  wide?: boolean;
  showSecrets?: boolean;
}

export const DEFAULT_LIMIT = 50;

/** Turns commander's raw flags into typed list options. */
export function parseListFlags(flags: ListFlags): ListOptions {
  if (flags.json && flags.output && flags.output !== 'json') {
    throw new UsageError(`--json conflicts with --output ${flags.output}`);
  }
  return {
    filters: parseFilterFlags(flags),
    order: flags.order,
    limit: flags.all ? null : flags.limit === undefined ? DEFAULT_LIMIT : parsePositiveInt('--limit', flags.limit),
    cursor: flags.cursor === undefined ? undefined : decodeCursor(flags.cursor),
    output: flags.json ? 'json' : (flags.output ?? 'table'),
    showSecrets: flags.showSecrets === true,
    wide: flags.wide === true,
  };
}
