import { defineConfig } from 'vitest/config';
import base from '../vitest.config.js';

// The acceptance files .ci/run runs again on Node.js 22 and 24 (vitest, and so the binary it spawns, on that Node;
// scripts/fetch-node.sh brings it). Every command, and what Node itself does: start-up and its warnings, config files,
// the embedded demo, TLS (OpenSSL), the HTTP sinks, signals and kill -9 mid-export, follow, node:crypto (secrets,
// seal), the terminal, the binary run through its shebang. About 90 s a version on a busy 2-core machine.
export const NODE_VERSIONS_SUBSET = [
  'node-versions', // Node's warnings on stderr, every command; the compile cache
  'help-snapshots',
  'bad-input',
  'commands',
  'config-file',
  'config-location',
  'env-vars',
  'doctor',
  'init',
  'tty',
  'tls',
  'connection-loss',
  'secrets',
  'seal',
  'attack-seal-content', // ids holding U+2028: Node.js 24's readline splits lines there
  'sinks',
  'timestamp-fill', // the export's timestamps written into COPY's Buffers
  'interrupt',
  'export-kill',
  'follow',
  'examples',
].map((name) => `test/acceptance/${name}.test.ts`);

// Three files at a time, not vitest's one on two cores: they mostly wait on the binary and PostgreSQL (229 s -> 87 s).
export default defineConfig({ ...base, test: { ...base.test, include: NODE_VERSIONS_SUBSET, maxWorkers: 3 } });
