import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { spawnInPty } from '../support/pty.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

// A new user's first hour, bad input included: through the built binary, every mistake is one line that names the
// bad value and exits 2, every runtime failure one line and exit 1, never a stack trace, never a password echoed.
// The tests once marked "known defect" (it.fails) were each reported with its fix; all are fixed and ordinary now,
// each named with the commit that fixed it.
let schema: TestSchema;
let dir: string;
let home: string;
let closedPort: number;

beforeAll(async () => {
  schema = await createTestSchema('afh_input');
  await createDefaultTable(schema);
  await insertRows(schema, Array.from({ length: 5 }, (_, i) => ({ age: `${i + 1} hours`, operator: 'alice', operation: 'update', resource_type: 'route', resource_id: `r${i}` })));
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-first-hour-input-'));
  home = join(dir, 'home');
  await mkdir(home);
  // A port on 127.0.0.1 that nothing listens on: taken from the kernel, then closed.
  closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** The built binary with a HOME of its own (no config file of the machine's) and `env`. */
const cli = (argv: string[], env: NodeJS.ProcessEnv = {}, cwd = dir): Promise<CliResult> => spawnCli(argv, { env: { HOME: home, ...env }, cwd });
const db = (argv: string[]) => cli(['--db', databaseUrl(), '--table', schema.table(), ...argv]);

/** Exit `code`, nothing on stdout, one `error:` line holding every one of `names` (commander may add its "Did you mean" line). */
function expectOneLine(result: CliResult, code: number, ...names: string[]): void {
  const lines = result.stderr.split('\n').filter((line) => line !== '' && !/^\(Did you mean .*\?\)$/.test(line));
  expect([result.code, result.stdout, lines.length, lines[0]?.startsWith('error: ')], result.stderr).toEqual([code, '', 1, true]);
  expect(result.stderr).not.toMatch(/^\s+at |--debug for details/m);
  for (const name of names) expect(result.stderr).toContain(name);
}

describe('typos: the command or flag it meant', () => {
  it.each<[string[], ...string[]]>([
    [['lsit'], "unknown command 'lsit'", '(Did you mean list?)'],
    [['hsitory', 'route:x'], "unknown command 'hsitory'", '(Did you mean history?)'],
    [['list', '--opertor', 'alice'], "unknown option '--opertor'", '(Did you mean --operator?)'],
    [['export', '--hec-ur', 'x'], "unknown option '--hec-ur'", '(Did you mean --hec-url?)'],
    [['--dbb', 'x', 'list'], "unknown option '--dbb'", '(Did you mean --db?)'],
    [['completion', 'bsh'], "'bsh' is invalid", 'bash, zsh, fish'],
  ])('%j', async (argv, ...names) => {
    expectOneLine(await cli(argv), 2, ...names);
  });
});

describe('wrong types and empty values: exit 2 naming the flag and the value', () => {
  it.each<[string[], ...string[]]>([
    [['list', '--limit', 'abc'], "--limit 'abc'"],
    [['list', '--limit', ''], "--limit ''"],
    [['list', '--limit', '1e3'], "--limit '1e3'"],
    [['list', '--since', ''], "--since ''"],
    [['list', '--since', '10'], "--since '10'", 'needs a unit'],
    [['list', '--since', '2026-13-45'], "--since '2026-13-45'"],
    [['list', '--operator', ''], "--operator ''"],
    [['list', '--ip', '10.0.0.300'], "--ip '10.0.0.300'"],
    [['list', '--resource', ':'], "--resource ':'"],
    [['list', '--output', 'yaml'], "'yaml' is invalid", 'table, json, ndjson, csv'],
    [['list', '--cursor', 'garbage'], "--cursor 'garbage'"],
    [['list', '--jq', '.['], "--jq '.['"],
    [['list', '--since', '1d', '--until', '7d'], '--since 1d', '--until 7d'],
    [['show', 'abc'], "id 'abc'"],
    [['history', 'route'], "resource 'route'", 'TYPE:ID'],
    [['stats', '--by', 'nope'], "--by 'nope'"],
    [['follow', '--for', 'abc'], "--for 'abc'"],
    [['prune', '--retention-days', '1.5'], "--retention-days '1.5'"],
    [['prune', '--max-duration', '10'], "--max-duration '10'"],
    [['export', '--hec-url', 'notaurl'], "--hec-url 'notaurl'"],
    [['export', '--datadog-site', 'foo'], "--datadog-site 'foo'"],
    [['--connect-timeout', '2d', 'list'], "--connect-timeout '2d'"],
    [['--table', 'a.b.c', 'list'], "table 'a.b.c'"],
  ])('%j', async (argv, ...names) => {
    const env = argv[0] === 'export' ? { API7_AUDIT_HEC_TOKEN: 'first-hour-token', DD_API_KEY: 'first-hour-key' } : {};
    expectOneLine(await cli(['--db', databaseUrl(), '--table', schema.table(), ...argv], env), 2, ...names);
  });

  it('a database URL that is not one: names where it came from, never the password', async () => {
    const bad = await cli(['--db', 'mysql://u:first-hour-pw@h/db', 'list']);
    expectOneLine(bad, 2, 'the scheme must be postgres://', '--db');
    expect(bad.stderr).not.toContain('first-hour-pw');
  });
});

describe('runtime failures: exit 1, one line, no password', () => {
  it('a closed port on 127.0.0.1, a missing database, an unknown id', async () => {
    const password = 'first-hour-Pa55word';
    const closed = await cli(['list'], { API7_AUDIT_DATABASE_URL: `postgres://u:${password}@127.0.0.1:${closedPort}/db` });
    expectOneLine(closed, 1, `127.0.0.1:${closedPort}/db`, 'API7_AUDIT_DATABASE_URL');
    expect(closed.stderr).not.toContain(password);
    const url = new URL(databaseUrl());
    url.pathname = '/first_hour_no_such_db';
    if (!isEmbedded()) expectOneLine(await cli(['--db', url.toString(), 'list']), 1, 'first_hour_no_such_db');
    expectOneLine(await db(['show', '999999']), 1, "'999999'");
  });

  it('doctor against a closed port: the report says so, the password stays out of stdout and stderr', async () => {
    const password = 'first-hour-Pa55word';
    const result = await cli(['doctor', '--json'], { API7_AUDIT_DATABASE_URL: `postgres://u:${password}@127.0.0.1:${closedPort}/db` });
    expect(result.code).toBe(1);
    expect(`${result.stdout}${result.stderr}`).not.toContain(password);
    expect(result.stdout).toContain('***');
  });
});

describe('config files as people write them', () => {
  const url = () => databaseUrl();
  async function configFile(name: string, text: string | Buffer): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    await chmod(file, 0o600);
    return file;
  }
  const body = () => `database:\n  url: ${url()}\ntable: ${schema.table()}\n`;

  it('an unknown key, a YAML syntax error, tab indentation: one line naming the file and what is wrong', async () => {
    const unknown = await configFile('unknown.yaml', `${body()}tabel: x\n`);
    expectOneLine(await cli(['--config', unknown, 'list']), 2, unknown, "unknown key 'tabel'");
    const nested = await configFile('nested.yaml', body().replace('  url:', '  conect_timeout: 5\n  url:'));
    expectOneLine(await cli(['--config', nested, 'list']), 2, "unknown key 'database.conect_timeout'");
    const syntax = await configFile('syntax.yaml', 'database:\n  url: [unclosed\n');
    expectOneLine(await cli(['--config', syntax, 'list']), 2, syntax, 'not valid YAML', 'line 3');
    const tabs = await configFile('tabs.yaml', `database:\n\turl: ${url()}\n`);
    expectOneLine(await cli(['--config', tabs, 'list']), 2, tabs, 'Tabs', 'line 2');
    const typed = await configFile('typed.yaml', `${body()}retention_days: "60"\n`);
    expectOneLine(await cli(['--config', typed, 'list']), 2, "'retention_days'", '"60"');
  });

  it('a byte order mark, CRLF line endings, trailing tabs and no final newline are read as the same file', async () => {
    const variants = {
      'bom.yaml': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body())]),
      'crlf.yaml': body().replaceAll('\n', '\r\n'),
      'trailing-tabs.yaml': body().replaceAll('\n', ' \t\n'),
      'no-newline.yaml': body().trimEnd(),
    };
    for (const [name, text] of Object.entries(variants)) {
      const result = await cli(['--config', await configFile(name, text), 'list', '--json']);
      expect([name, result.code, result.stderr]).toEqual([name, 0, '']);
      expect(JSON.parse(result.stdout)).toHaveLength(5);
    }
  });

  it('a file others can write is refused with the chmod that fixes it', async () => {
    const file = await configFile('open.yaml', body());
    await chmod(file, 0o666);
    expectOneLine(await cli(['--config', file, 'list']), 2, `chmod go-w '${file}'`);
  });
});

describe('defects found by this attack, each fixed since', () => {
  it('--demo takes no table or columns from the config file init wrote (fixed in e75ef9e)', async () => {
    const xdg = join(dir, 'xdg-demo');
    await mkdir(join(xdg, 'api7-audit'), { recursive: true });
    await writeFile(join(xdg, 'api7-audit', 'config.yaml'), `table: ${schema.table()}\ncolumns:\n  operator: operator\n`, { mode: 0o600 });
    const result = await cli(['--demo', 'list', '--limit', '1', '--json'], { XDG_CONFIG_HOME: xdg });
    expect(result.code, result.stderr).toBe(0);
  }, 120_000);

  it('with no database configured, the error still says that ./api7-audit.yaml is ignored (fixed in e75ef9e)', async () => {
    const cwd = join(dir, 'legacy');
    await mkdir(cwd);
    await writeFile(join(cwd, 'api7-audit.yaml'), `database:\n  url: ${databaseUrl()}\n`, { mode: 0o600 });
    const result = await cli(['list'], {}, cwd);
    expect(result.stderr).toContain('./api7-audit.yaml is ignored');
  });

  it("--db '' is one line naming --db, not a fall-through to the next source of a URL (fixed in 1cd3c1e)", async () => {
    const file = join(dir, 'fallback.yaml');
    await writeFile(file, `database:\n  url: ${databaseUrl()}\ntable: ${schema.table()}\n`, { mode: 0o600 });
    expectOneLine(await cli(['--config', file, '--db', '', 'list']), 2, "--db ''");
  });

  it("export --out '' names --out, rather than asking to choose a destination (fixed in 1cd3c1e)", async () => {
    expectOneLine(await db(['export', '--out', '']), 2, "--out ''");
  });

  it('control characters of a flag reach the terminal as escapes (fixed in 79a87f3)', async () => {
    const result = await db(['list', '--since', '\u001b]0;retitled\u0007']);
    expect(result.code).toBe(2);
    expect([...result.stderr].filter((c) => c !== '\n' && (c < ' ' || c === '\u007f'))).toEqual([]);
  });

  it('a PAGER that cannot run (not installed, a typo) is one line naming it and --no-pager, not a hang (waitForDrain, pager.ts)', async () => {
    // sh exits 127 before the table is written: the pipe is closed already, so the write waits for a 'drain' or a
    // 'close' that never comes. Killed after 15 s, the run reads as code 128.
    const result = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'list'], { env: { HOME: home, TERM: 'xterm', PAGER: 'api7-audit-no-such-pager' }, timeoutMs: 15_000 });
    expect(result.code, result.output).not.toBe(128);
    expect(result.output).toMatch(/alice|--no-pager/);
  }, 30_000);

  it('--demo init --yes refuses to write the demo\'s mapping into the user\'s own config file; --demo init only shows it', async () => {
    const demoHome = join(dir, 'home-demo-init');
    await mkdir(demoHome);
    expectOneLine(await cli(['--demo', 'init', '--yes'], { HOME: demoHome }), 2, '--config FILE', join(demoHome, '.config', 'api7-audit', 'config.yaml'));
    const looked = await cli(['--demo', 'init'], { HOME: demoHome });
    expect(looked.code, looked.stderr).toBe(0);
    expect(looked.stderr).toContain('not written: the demo database');
    await expect(readFile(join(demoHome, '.config', 'api7-audit', 'config.yaml'))).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it('init --db URL --yes prints a next step that runs (fixed in e75ef9e)', async () => {
    const initHome = join(dir, 'home-init');
    await mkdir(initHome);
    const init = await cli(['--db', databaseUrl(), 'init', '--schema', schema.name, '--yes'], { HOME: initHome });
    expect(init.code, init.stderr).toBe(0);
    const next = /next: api7-audit (.*)$/m.exec(init.stderr)?.[1] ?? '';
    const doctor = await cli(next.split(' '), { HOME: initHome });
    expect(doctor.stderr).not.toContain('no database configured');
    expect(await readFile(join(initHome, '.config', 'api7-audit', 'config.yaml'), 'utf8')).toContain(schema.table());
  });
});
