import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli } from '../support/cli.js';
import { startTerminal, type Terminal } from '../support/tmux.js';

// `api7-audit completion bash|zsh|fish` in the real shells, in a real terminal (tmux): loaded the way the help and the
// README say, then Tab pressed as a user presses it. What a completion made of the line is read back by the shell
// itself: the cursor goes to the start of the line (Ctrl-A) and `printf '<%s>\n' ` is typed before it, so each
// word prints as the shell parsed it: a file name with a space or a quote must come back whole.
type Shell = 'bash' | 'zsh' | 'fish';
const PROMPT = 'READY> ';
const HOSTILE = { quote: "it's here.yaml", double: 'say "hi" $x.yaml', dir: 'sub dir' };

let scratch: string;
let bin: string;
let work: string;
/** Every terminal opened, closed at the end whatever failed: a tmux server outlives its socket's directory. */
const opened: Terminal[] = [];

beforeAll(async () => {
  for (const shell of ['bash', 'zsh', 'fish', 'tmux']) {
    expect(() => execFileSync('sh', ['-c', `command -v ${shell}`]), `${shell} is not installed (.ci/run installs it)`).not.toThrow();
  }
  scratch = await mkdtemp(join(tmpdir(), 'api7-audit-shells-'));
  bin = join(scratch, 'bin');
  work = join(scratch, 'work');
  await mkdir(bin);
  await mkdir(join(work, HOSTILE.dir), { recursive: true });
  for (const file of [HOSTILE.quote, HOSTILE.double]) await writeFile(join(work, file), '');
  // The binary on PATH as `api7-audit`, as an install puts it.
  await writeFile(join(bin, 'api7-audit'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  await chmod(join(bin, 'api7-audit'), 0o755);
});

afterAll(async () => {
  await Promise.all(opened.map((terminal) => terminal.close()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A new interactive `shell` with a HOME of its own, the completion loaded as the README says (or by `loadLine`). */
async function openShell(shell: Shell, name: string, loadLine?: string): Promise<Terminal> {
  const home = join(scratch, name);
  await mkdir(home);
  const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, HOME: home, TERM: 'xterm', LANG: 'C.UTF-8' };
  let command: string[];
  let load: string;
  if (shell === 'bash') {
    command = ['bash', '--norc', '--noprofile'];
    env.PS1 = PROMPT;
    load = 'source <(api7-audit completion bash)';
  } else if (shell === 'zsh') {
    // compinit, as every zsh set-up that completes anything has; the first fpath entry is a directory of the test's.
    await mkdir(join(home, 'functions'));
    await writeFile(join(home, '.zshrc'), `fpath=(${home}/functions $fpath)\nautoload -U compinit && compinit -u -d ${home}/.zcompdump\nPS1='${PROMPT}'\n`);
    env.ZDOTDIR = home;
    command = ['zsh'];
    load = 'api7-audit completion zsh > "${fpath[1]}/_api7-audit" && exec zsh';
  } else {
    const config = join(home, '.config', 'fish');
    await mkdir(join(config, 'completions'), { recursive: true });
    await writeFile(join(config, 'config.fish'), `set -g fish_greeting\nfunction fish_prompt; echo -n '${PROMPT}'; end\n`);
    // Without it, fish's first interactive start parses every man page on the machine, in the background.
    await mkdir(join(home, '.local', 'share', 'fish', 'generated_completions'), { recursive: true });
    command = ['fish'];
    load = 'api7-audit completion fish > ~/.config/fish/completions/api7-audit.fish';
  }
  const terminal = await startTerminal(command, { dir: home, cwd: work, env });
  opened.push(terminal);
  await terminal.waitFor(new RegExp(`^${PROMPT.trim()}\\s*$`, 'm'));
  await terminal.type(loadLine ?? load);
  await terminal.press('Enter');
  // The next prompt before the next keys: typed ahead, they would be echoed where the shell's output goes.
  await terminal.waitFor(new RegExp(`(^${PROMPT.trim()}.*\\n[\\s\\S]*){1}^${PROMPT.trim()}\\s*$`, 'm'));
  await terminal.type(shell === 'fish' ? 'echo "loaded $status"' : 'echo "loaded $?"');
  await terminal.press('Enter');
  const shown = await terminal.waitFor(/^loaded \d+$/m);
  // Loading printed nothing (no "command not found: compdef", no syntax error) and succeeded.
  const lines = shown.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(PROMPT.trim()));
  expect(lines, shown).toEqual(['loaded 0']);
  await clear(terminal);
  return terminal;
}

/** An empty line on a cleared screen: Ctrl-C until the last line is a bare prompt, then `clear`. */
async function clear(terminal: Terminal): Promise<void> {
  const bare = new RegExp(`(^|\\n)${PROMPT.trim()}$`);
  for (let attempt = 1; attempt <= 3; attempt++) {
    await terminal.press('C-c');
    if (await terminal.waitFor(bare, 1_000).then(() => true, () => false)) break;
  }
  await terminal.type('clear');
  await terminal.press('Enter');
  await terminal.waitFor(new RegExp(`^${PROMPT.trim()}$`));
}

/** Types `text`, presses Tab, and returns the words of the resulting line as the shell parses them. */
async function completeLine(terminal: Terminal, text: string): Promise<string[]> {
  await terminal.type(text);
  await terminal.press('Tab');
  // Give the completion its time before the next keys (bash and zsh would queue them; fish might not).
  await new Promise((resolve) => setTimeout(resolve, 300));
  await terminal.press('C-a');
  await terminal.type(`printf '<%s>\\n' `);
  await terminal.press('Enter');
  const shown = await terminal.waitFor(/^<api7-audit>$[\s\S]*^READY>/m);
  await clear(terminal);
  return shown.slice(shown.lastIndexOf('<api7-audit>')).split('\n').filter((line) => /^<.*>$/.test(line)).map((line) => line.slice(1, -1));
}

/** Types `text` and presses Tab until the candidates show (bash and zsh first insert their common prefix). */
async function listFor(terminal: Terminal, text: string, expected: string[]): Promise<string> {
  await terminal.type(text);
  const listed = new RegExp(expected.map((word) => `(?=[\\s\\S]*(?:^|\\s)${word}(?:\\s|$))`).join(''), 'm');
  let shown = '';
  for (let tab = 1; tab <= 3 && !listed.test(shown); tab++) {
    await terminal.press('Tab');
    shown = await terminal.waitFor(listed, 3_000).catch(() => '');
  }
  expect(shown, await terminal.screen()).toMatch(listed);
  await clear(terminal);
  return shown;
}

describe.each(['bash', 'zsh', 'fish'] as const)('completion %s, in the shell itself', (shell) => {
  let terminal: Terminal;
  beforeAll(async () => {
    terminal = await openShell(shell, `${shell}-home`);
  }, 30_000);
  afterAll(async () => {
    await terminal?.close();
  });

  it('is a script the shell parses (-n)', async () => {
    const script = await spawnCli(['completion', shell]);
    expect(script.code).toBe(0);
    const file = join(scratch, `script.${shell}`);
    await writeFile(file, script.stdout);
    expect(() => execFileSync(shell, ['-n', file], { stdio: 'pipe' })).not.toThrow();
  });

  it('completes a command, also after a global flag whose value has colons', async () => {
    expect(await completeLine(terminal, 'api7-audit li')).toEqual(['api7-audit', 'list']);
    expect(await completeLine(terminal, 'api7-audit --db postgres://h:5432/db hi')).toEqual(['api7-audit', '--db', 'postgres://h:5432/db', 'history']);
  }, 30_000);

  it("lists a command's flags and a flag's choices, and completes --flag=value", async () => {
    await listFor(terminal, 'api7-audit list --op', ['--operator', '--operation']);
    await listFor(terminal, 'api7-audit list --output ', ['table', 'json', 'ndjson', 'csv']);
    expect(await completeLine(terminal, 'api7-audit list --output=nd')).toEqual(['api7-audit', 'list', '--output=ndjson']);
    expect(await completeLine(terminal, 'api7-audit completion fi')).toEqual(['api7-audit', 'completion', 'fish']);
  }, 30_000);

  it('completes a flag of a command that takes an argument (zsh listed --resource for --res without inserting it)', async () => {
    // zsh inserts `--resource=`, its `=` a suffix that goes when the cursor moves on: either is the flag inserted.
    const flag = (words: string[]) => words.map((word) => word.replace(/^(--[a-z-]+)=$/, '$1'));
    expect(flag(await completeLine(terminal, 'api7-audit history --res'))).toEqual(['api7-audit', 'history', '--resource']);
    expect(flag(await completeLine(terminal, 'api7-audit show 12 --out'))).toEqual(['api7-audit', 'show', '12', '--output']);
  }, 30_000);

  it("after a command, offers its flags, and an argument's values only where that argument goes (not command names again)", async () => {
    await listFor(terminal, 'api7-audit list ', ['--since', '--until', '--operator', '--output']);
    await listFor(terminal, 'api7-audit --db postgres://h:5432/db list --output json ', ['--since', '--limit']);
    // One argument given: the second word is no command name, nor the first argument's value again.
    expect(await completeLine(terminal, 'api7-audit help list sh')).toEqual(['api7-audit', 'help', 'list', 'sh']);
    expect(await completeLine(terminal, 'api7-audit completion fish z')).toEqual(['api7-audit', 'completion', 'fish', 'z']);
    expect(await completeLine(terminal, 'api7-audit help li')).toEqual(['api7-audit', 'help', 'list']);
  }, 30_000);

  it('completes file names with spaces and quotes whole, and directories for a directory flag', async () => {
    expect(await completeLine(terminal, 'api7-audit --config it')).toEqual(['api7-audit', '--config', HOSTILE.quote]);
    expect(await completeLine(terminal, 'api7-audit export --out say')).toEqual(['api7-audit', 'export', '--out', HOSTILE.double]);
    expect(await completeLine(terminal, 'api7-audit verify --archive it')).toEqual(['api7-audit', 'verify', '--archive', HOSTILE.quote]);
    const store = await completeLine(terminal, 'api7-audit seal --store s');
    expect(store.slice(0, 3)).toEqual(['api7-audit', 'seal', '--store']);
    expect(store[3]?.replace(/\/$/, '')).toBe(HOSTILE.dir);
  }, 30_000);
});

describe('completion zsh, sourced', () => {
  it('after compinit, in ~/.zshrc: completes; without compinit: one line that says what is missing', async () => {
    // Sourced only: nothing in the fpath directory, so the completion comes from compdef.
    const terminal = await openShell('zsh', 'zsh-sourced', 'source <(api7-audit completion zsh)');
    try {
      expect(await completeLine(terminal, 'api7-audit sta')).toEqual(['api7-audit', 'stats']);
    } finally {
      await terminal.close();
    }
    const bare = execFileSync('zsh', ['-f', '-c', `source <('${bin}/api7-audit' completion zsh); echo "status $?"`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: `${bin}:/usr/bin:/bin` } });
    expect(bare).toBe('status 0\n');
    const stderr = execFileSync('zsh', ['-f', '-c', `source <('${bin}/api7-audit' completion zsh) 2>&1`], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
    expect(stderr.trim().split('\n')).toEqual(['api7-audit completion: zsh\'s completion system is not loaded; run: autoload -U compinit && compinit']);
  }, 30_000);
});
