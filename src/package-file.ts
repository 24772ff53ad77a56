import { existsSync } from 'node:fs';

/**
 * A file shipped with the package (see `files` in package.json), found by walking up from the running module:
 * the sources (src/demo/) and the bundle (dist/chunks/) sit at different depths below the package root.
 */
export function packageFile(relative: string): URL {
  let folder = new URL('./', import.meta.url);
  for (;;) {
    const candidate = new URL(relative, folder);
    if (existsSync(candidate)) return candidate;
    const parent = new URL('../', folder);
    if (parent.href === folder.href) throw new Error(`${relative} is missing from the api7-audit package`);
    folder = parent;
  }
}
