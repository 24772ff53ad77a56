import type { HistoryStatements } from './history-precompiled.js';

/**
 * history's precompiled statements (history-precompiled.ts). Here they are compiled by Kysely on first use; the
 * bundle's build (scripts/build.mjs) replaces this module with their compiled text, so that the binary's history
 * loads no Kysely for them.
 */
export async function historyStatements(): Promise<HistoryStatements> {
  const { compileHistoryStatements } = await import('./history-compile.js');
  compiled ??= compileHistoryStatements();
  return compiled;
}

let compiled: Promise<HistoryStatements> | undefined;
