import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Command, Option } from 'commander';
import { completionScript } from '../../src/output/completion.js';

function program(): Command {
  const root = new Command('tool').option('--db <url>', 'database').option('--config <file>', 'config file').version('1', '-V, --version');
  root.command('list').description('list').addOption(new Option('-o, --output <format>', 'format').choices(['table', 'json'])).option('--source <source>', 'source').option('--all', 'all');
  root.command('prune').option('--archive <file>', 'archive').option('--dry-run', 'dry');
  return root;
}

/** Asks the bash function of `script` to complete `line` (the word under the cursor last, '' for a new word). */
function completeInBash(script: string, words: string[]): string[] {
  const array = words.map((word) => `'${word}'`).join(' ');
  const out = execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _tool_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line !== '');
}

describe('completion scripts from the commander tree', () => {
  const bash = completionScript('bash', program(), { '--source': ['dashboard', 'api', 'adc'] });
  it('bash completes commands, flags (own and global), choices and known values', () => {
    expect(completeInBash(bash, ['tool', ''])).toEqual(['list', 'prune', 'help']);
    expect(completeInBash(bash, ['tool', '--db', 'x', 'pr'])).toEqual(['prune']);
    expect(completeInBash(bash, ['tool', 'list', '--'])).toEqual(expect.arrayContaining(['--output', '--source', '--all', '--db', '--config', '--help']));
    expect(completeInBash(bash, ['tool', 'list', '--'])).not.toContain('--dry-run');
    expect(completeInBash(bash, ['tool', 'list', '-o', ''])).toEqual(['table', 'json']);
    expect(completeInBash(bash, ['tool', 'list', '--source', 'a'])).toEqual(['api', 'adc']);
    expect(completeInBash(bash, ['tool', 'help', 'l'])).toEqual(['list']);
  });
  it('zsh wraps the bash function; fish has one line per flag', () => {
    expect(completionScript('zsh', program())).toMatch(/^#compdef tool\nautoload -U \+X bashcompinit && bashcompinit\n/);
    const fish = completionScript('fish', program(), { '--source': ['api'] });
    expect(fish).toContain("complete -c tool -n '__fish_seen_subcommand_from list' -s o -l output -r -f -a 'table json'");
    expect(fish).toContain("complete -c tool -n '__fish_seen_subcommand_from prune' -l archive -r -F");
  });
});
