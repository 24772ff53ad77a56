import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APISIX_PLUGIN_SECRET_PATHS, APISIX_RESOURCE_SECRET_PATHS } from '../../src/secrets/apisix-fields.js';

/** Beside the clone, as in CI (and /work/shared here): read at test time, never copied into the repository. */
export const APISIX_FIELDS_TSV = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'reference', 'apisix-secret-fields.tsv');

export interface DeclaredField {
  kind: 'plugin' | 'resource';
  name: string;
  path: string;
}

/**
 * The reference list. A clone on its own (a developer's `npm test`) has no shared/ beside it: there the fields come
 * from the data generated from that list (src/secrets/apisix-fields.ts), and CI, which has the list, checks that
 * the two agree.
 */
export function readDeclaredFields(): DeclaredField[] {
  if (!existsSync(APISIX_FIELDS_TSV) && process.env.CI !== 'true') {
    const entries = (kind: DeclaredField['kind'], table: Readonly<Record<string, readonly string[]>>) =>
      Object.entries(table).flatMap(([name, paths]) => paths.map((path) => ({ kind, name, path })));
    return [...entries('plugin', APISIX_PLUGIN_SECRET_PATHS), ...entries('resource', APISIX_RESOURCE_SECRET_PATHS)];
  }
  return readFileSync(APISIX_FIELDS_TSV, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const [kind, name, path] = line.split('\t');
      if ((kind !== 'plugin' && kind !== 'resource') || !name || !path) throw new Error(`unexpected line in ${APISIX_FIELDS_TSV}: ${line}`);
      return { kind, name, path };
    });
}

/** Fields on declared paths that APISIX schemas make arrays: ai-proxy `instances`, kafka-logger `brokers`. */
const ARRAYS: ReadonlySet<string> = new Set(['instances', 'brokers']);

/**
 * An object holding `value` at a dotted path; an array on the way ({@link ARRAYS}) is crossed as its second item,
 * beside a plain first one. Ordinary neighbours sit at each level so a mask that swallows too much shows.
 */
export function atPath(path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.') as [string, ...string[]];
  const inner = rest.length === 0 ? value : atPath(rest.join('.'), value);
  if (ARRAYS.has(head) && rest.length > 0) return { [head]: [{ name: 'plain' }, inner], neighbour: 'visible' };
  return { [head]: inner, neighbour: 'visible' };
}

/** The declared path as {@link atPath} lays it out, as show names it: `instances[1].auth.header`. */
export function laidOutPath(path: string): string {
  const parts = path.split('.');
  return parts.map((part, index) => (ARRAYS.has(part) && index < parts.length - 1 ? `${part}[1]` : part)).join('.');
}
