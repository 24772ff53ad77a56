import packageJson from '../package.json' with { type: 'json' };

/** The package version: the build inlines package.json, so `--version` reads no file and loads nothing heavy. */
export const VERSION: string = packageJson.version;
