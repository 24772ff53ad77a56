import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Beside the clone, as in CI (and /work/shared here): read at test time, never copied into the repository. */
export const APISIX_FIELDS_TSV = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'reference', 'apisix-secret-fields.tsv');

export interface DeclaredField {
  kind: 'plugin' | 'resource';
  name: string;
  path: string;
}

export function readDeclaredFields(): DeclaredField[] {
  return readFileSync(APISIX_FIELDS_TSV, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const [kind, name, path] = line.split('\t');
      if ((kind !== 'plugin' && kind !== 'resource') || !name || !path) throw new Error(`unexpected line in ${APISIX_FIELDS_TSV}: ${line}`);
      return { kind, name, path };
    });
}

/**
 * An object holding `value` at a dotted path; `instances` is an array (ai-proxy), crossed as its second item, beside
 * a plain first one. Ordinary neighbours sit at each level so a mask that swallows too much shows.
 */
export function atPath(path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.') as [string, ...string[]];
  const inner = rest.length === 0 ? value : atPath(rest.join('.'), value);
  if (head === 'instances' && rest.length > 0) return { [head]: [{ name: 'plain' }, inner], neighbour: 'visible' };
  return { [head]: inner, neighbour: 'visible' };
}
