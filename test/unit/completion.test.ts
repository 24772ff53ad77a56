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
  it('zsh is a native _arguments function: repeatable value flags, files, choices; it autoloads or registers itself', () => {
    const zsh = completionScript('zsh', program());
    expect(zsh).toMatch(/^#compdef tool\n/);
    expect(zsh).toContain("'*-o+[format]:format:(table json)'");
    expect(zsh).toContain("'*--output=[format]:format:(table json)'");
    expect(zsh).toContain("'*--archive=[archive]:file:_files'");
    expect(zsh).toContain("'(-V --version)--version[output the version number]'");
    expect(zsh).toContain('if [ "${funcstack[1]}" = \'_tool\' ]; then');
    expect(zsh).toContain('compdef _tool tool');
  });
  it('fish has one line per flag, under a subcommand found past the global flags and their values', () => {
    const fish = completionScript('fish', program(), { '--source': ['api'] });
    expect(fish).toContain("complete -c tool -n '_tool_command list' -s o -l output -r -f -a 'table json'");
    expect(fish).toContain("complete -c tool -n '_tool_command prune' -l archive -r -F");
    expect(fish).toContain("complete -c tool -n 'not _tool_command' -a 'list'");
    expect(fish).toMatch(/case --db --config\n {16}set skip 1/);
  });
  it('a file flag is left to the shell\'s own file completion; <files...> and <dir> are files and directories', () => {
    const root = new Command('tool').option('--archive <files...>', 'archives').option('--store <dir>', 'store').option('--db <url>', 'db');
    const bash = completionScript('bash', root);
    expect(bash).toContain("'|--archive') compopt -o default; COMPREPLY=(); return 0 ;;");
    expect(bash).toContain("'|--store') compopt -o dirnames; COMPREPLY=(); return 0 ;;");
    expect(bash).toContain("'|--db') COMPREPLY=(); return 0 ;;");
    expect(completionScript('zsh', root)).toContain("'*--store=[store]:dir:_files -/'");
    expect(completionScript('fish', root)).toContain("-l store -r -f -a '(__fish_complete_directories (commandline -ct))'");
  });
  it('bash glues the words it split at : and = back: --db URL before the command, --output=value', () => {
    const bash = completionScript('bash', program(), { '--source': ['dashboard', 'api', 'adc'] });
    expect(completeInBash(bash, ['tool', '--db', 'postgres', ':', '//h/db', 'li'])).toEqual(['list']);
    expect(completeInBash(bash, ['tool', 'list', '--output', '=', 'j'])).toEqual(['json']);
    expect(completeInBash(bash, ['tool', 'list', '--output', '='])).toEqual(['table', 'json']);
  });
});
