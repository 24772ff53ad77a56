import type { Command } from 'commander';
import { bashScript } from './completion-bash.js';
import { fishScript } from './completion-fish.js';
import { describeTree } from './completion-tree.js';
import { zshScript } from './completion-zsh.js';

/**
 * Shell completion scripts generated from the commander tree itself, so every registered command and flag is
 * offered without a list kept by hand. The scripts are static (no call back into node on each Tab): a flag's values
 * are its `.choices()`, or what `values` knows for it (filter values such as --source), or files (directories) for
 * flags whose argument names a file (a directory).
 */
export type Shell = 'bash' | 'zsh' | 'fish';
export const SHELLS: readonly Shell[] = ['bash', 'zsh', 'fish'];

/** The completion script for `shell`; `values` maps a long flag to the values to offer for it. */
export function completionScript(shell: Shell, program: Command, values: Readonly<Record<string, readonly string[]>> = {}): string {
  const tree = describeTree(program, values);
  return shell === 'bash' ? bashScript(tree) : shell === 'zsh' ? zshScript(tree) : fishScript(tree);
}
