import { createRequire } from 'node:module';

/** The package version, read from package.json once (a JSON read is cheaper than importing anything heavy). */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
