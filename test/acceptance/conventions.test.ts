import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BIN, spawnCli } from '../support/cli.js';
import { buildProgram } from '../../src/cli.js';
import { VERSION } from '../../src/version.js';

const quiet = { stdout: process.stdout, stderr: process.stderr, env: {}, cwd: process.cwd(), stdoutIsTty: false, stderrIsTty: false };
const program = buildProgram(quiet);

/** Sources the binary's bash completion in a real bash and returns what it offers for `words` (last = under the cursor). */
function complete(...words: string[]): string[] {
  const array = words.map((word) => `'${word}'`).join(' ');
  const script = `source <('${process.execPath}' '${BIN}' completion bash) && COMP_WORDS=(api7-audit ${array}) && COMP_CWORD=${words.length}; _api7_audit_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('version spellings', () => {
  it.each([['version'], ['-v'], ['-V'], ['--version']])('%s prints the version and exits 0', async (spelling) => {
    const result = await spawnCli([spelling]);
    expect(result).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });
});

describe('completion bash, sourced in a real bash', () => {
  it('offers every registered command, and help', () => {
    expect(complete('')).toEqual([...program.commands.map((command) => command.name()), 'help']);
  });
  it("offers a command's own flags and the global ones", () => {
    const offered = complete('list', '--');
    for (const flag of ['--since', '--operator', '--output', '--limit', '--all', '--db', '--demo', '--help']) expect(offered).toContain(flag);
    expect(offered).not.toContain('--dry-run');
  });
  it('offers the values it knows: --output choices, --source, --operation, resource types', () => {
    expect(complete('list', '--output', '')).toEqual(['table', 'json', 'ndjson', 'csv']);
    expect(complete('--db', 'postgres://x', 'list', '--source', '')).toEqual(['dashboard', 'api', 'adc']);
    expect(complete('list', '--operation', 'DE')).toEqual(['DELETE']);
    expect(complete('list', '--resource', 'plugin_')).toEqual(['plugin_config', 'plugin_metadata']);
    expect(complete('completion', 'f')).toEqual(['fish']);
  });
  it('zsh and fish scripts name every command; an unknown shell is exit 2', async () => {
    for (const shell of ['zsh', 'fish']) {
      const result = await spawnCli(['completion', shell]);
      expect(result.code).toBe(0);
      for (const command of program.commands) expect(result.stdout).toContain(command.name());
    }
    const bad = await spawnCli(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'tcsh'");
  });
});

describe('help and global flags', () => {
  it("every command's --help lists the global flags and says the defaults", async () => {
    for (const command of ['list', 'show', 'prune', 'export']) {
      const help = await spawnCli([command, '--help']);
      expect(help.code).toBe(0);
      for (const flag of ['--db <url>', '--config <file>', '--table <name>', '--demo', '--connect-timeout <duration>', '--debug', '--no-color']) expect(help.stdout, `${command}: ${flag}`).toContain(flag);
    }
    expect((await spawnCli(['list', '--help'])).stdout).toMatch(/--output <format>\s+output format \(default: table\)/);
    expect((await spawnCli(['show', '--help'])).stdout).toMatch(/--output <format>\s+output format \(default: text\)/);
    expect((await spawnCli(['--help'])).stdout).toContain('API7_AUDIT_DEBUG=1 (as --debug)');
  });

  it('--demo with --db is refused naming both; a bare --connect-timeout is refused with a hint', async () => {
    const both = await spawnCli(['--demo', '--db', 'postgres://x@127.0.0.1/x', 'list']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("option '--demo' cannot be used with option '--db <url>'");
    const bare = await spawnCli(['--connect-timeout', '5', 'list']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("invalid --connect-timeout '5': a duration needs a unit, such as 5s");
  });
});

describe('man page api7-audit(1)', () => {
  const page = readFileSync(fileURLToPath(new URL('../../man/api7-audit.1', import.meta.url)), 'utf8');
  const roff = (text: string) => text.replaceAll('\\', '\\e').replaceAll('-', '\\-');

  it('lists every command and every flag that --help lists', () => {
    const visible = (options: readonly { hidden: boolean; flags: string }[]) => options.filter((option) => !option.hidden).map((option) => option.flags);
    for (const flags of visible(program.options)) expect(page).toContain(`.B ${roff(flags)}`);
    for (const command of program.commands) {
      expect(page).toContain(`.SS ${roff(`api7-audit ${command.name()}`)}`);
      for (const flags of visible(command.options)) expect(page, `${command.name()} ${flags}`).toContain(`.B ${roff(flags)}`);
    }
  });

  it('renders with man, and is shipped in the package', () => {
    const text = execFileSync('man', ['-l', '-P', 'cat', fileURLToPath(new URL('../../man/api7-audit.1', import.meta.url))], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '100' } });
    expect(text).toContain('API7-AUDIT(1)');
    expect(text).toMatch(/api7-audit list \[OPTIONS\]/);
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { man: string[]; files: string[] };
    expect(pkg.man).toEqual(['./man/api7-audit.1']);
    expect(pkg.files).toContain('man');
  });
});

describe('the demo on a terminal', () => {
  it('says "starting the demo database..." with a spinner on a terminal, and nothing of it in a pipe', async () => {
    const { spawnInPty } = await import('../support/pty.js');
    const tty = await spawnInPty(['--demo', 'list', '--limit', '1', '--no-pager'], { timeoutMs: 240_000 });
    expect(tty.code, tty.output).toBe(0);
    expect(tty.output).toContain('starting the demo database...');
    const piped = await spawnCli(['--demo', 'list', '--limit', '1']);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toContain('starting the demo database');
  }, 400_000);
});
