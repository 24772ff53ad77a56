#!/usr/bin/env node
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Node.js 22.1+ keeps V8's compiled code for the bundle on disk between runs (~10 ms of CPU a start; a no-op on
// Node.js 20). Not in Node's default $TMPDIR/node-compile-cache: whoever creates that first can plant compiled code
// that every other user's run (root's prune from cron) would execute. NODE_COMPILE_CACHE still wins.
const { NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE } = process.env;
if (module.enableCompileCache && NODE_COMPILE_CACHE === undefined && NODE_DISABLE_COMPILE_CACHE === undefined) {
  const dir = privateCacheDir();
  if (dir) module.enableCompileCache(dir);
}
// dist/ is a minified bundle: with --debug, stack traces point into src/ through its source maps.
if (process.argv.includes('--debug') || process.env.API7_AUDIT_DEBUG === '1') process.setSourceMapsEnabled(true);
const { runProcess } = await import('../dist/main.js');
await runProcess();

/** $TMPDIR/api7-audit-compile-cache-UID if this user owns it and alone can write to it (made if absent), else none. */
function privateCacheDir() {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  try {
    const parent = statSync(tmpdir());
    // In a directory others can write to without the sticky bit, they could swap ours for theirs after the check.
    if ((parent.mode & 0o002) !== 0 && (parent.mode & 0o1000) === 0) return undefined;
    const dir = join(tmpdir(), `api7-audit-compile-cache-${uid}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if (error.code !== 'EEXIST') return undefined;
    }
    const own = lstatSync(dir);
    return own.isDirectory() && own.uid === uid && (own.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined; // only an optimisation: no usable directory means no cache
  }
}
