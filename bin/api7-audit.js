#!/usr/bin/env node
import module from 'node:module';

// Node.js 22.1+ keeps V8's compiled code for the bundle on disk between runs (a no-op on Node.js 20).
module.enableCompileCache?.();
// dist/ is a minified bundle: with --debug, stack traces point into src/ through its source maps.
if (process.argv.includes('--debug') || process.env.API7_AUDIT_DEBUG === '1') process.setSourceMapsEnabled(true);
const { runProcess } = await import('../dist/main.js');
await runProcess();
