#!/usr/bin/env node
// dist/ is a minified bundle: with --debug, stack traces point into src/ through its source maps.
if (process.argv.includes('--debug') || process.env.API7_AUDIT_DEBUG === '1') process.setSourceMapsEnabled(true);
const { runProcess } = await import('../dist/main.js');
await runProcess();
