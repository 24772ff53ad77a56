import { readFile } from 'node:fs/promises';
import { fileErrorReason, UsageError } from '../errors.js';

/**
 * Reads and parses one YAML file; `what` names it in messages ("config file", "control plane config"). A file that
 * cannot be read or is not YAML is a UsageError naming it; any other error (a bug) reaches main.ts as it is.
 */
export async function readYamlFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} '${path}': ${fileErrorReason(error)}`);
  }
  // Loaded on demand: yaml takes longer to load than the rest of the CLI, and most runs read no YAML. `default` is
  // the CommonJS module in Node.js and in the esbuild bundle alike; the bundle has no named exports for it.
  const { default: yaml } = await import('yaml');
  try {
    return yaml.parse(text);
  } catch (error) {
    if (!(error instanceof yaml.YAMLError)) throw error;
    throw new UsageError(`${what} '${path}' is not valid YAML: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}`);
  }
}
