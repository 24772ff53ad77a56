import { Writable } from 'node:stream';
import type { CliIo } from '../io.js';

/**
 * `-q/--quiet` (prune, export): only errors, which main.ts prints through its own streams. Progress, warnings and
 * summaries go nowhere; stdout stays when it carries data (`export --out -`).
 */
export function quietIo(io: CliIo, keepStdout = false): CliIo {
  const nowhere = new Writable({ write: (_chunk, _encoding, done) => done() });
  return { ...io, stdout: keepStdout ? io.stdout : nowhere, stderr: nowhere, stderrIsTty: false };
}
