import { execFile } from 'node:child_process';
import { access, chmod, cp, lstat, mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

// A new user's first hour through the package users install: `npm pack`, `npm install -g --prefix` of the tarball,
// and the INSTALLED binary run from a directory outside the checkout, with a HOME of its own. What works from the
// checkout but not from the package (a file left out of "files", a path resolved against the repository, a
// devDependency needed at run time) fails here.
const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };
const COMMANDS = ['list', 'show', 'prune', 'export', 'init', 'doctor', 'history', 'stats', 'follow', 'seal', 'verify', 'completion', 'version'];

let scratch: string;
let prefix: string;
let installed: string;
/** How the package got its dependencies: `npm install -g` (the user's way) or the lockfile fallback, said in the test output. */
let installedBy: string;
/** What `npm install -g` of the tarball said on stderr ('' when the registry was unreachable and the fallback ran). */
let installStderr = '';
let schema: TestSchema;

/** npm's environment without what `npm test` adds for the checkout (its prefix, its package), so --prefix wins. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^npm_(package_|lifecycle_)|^npm_config_(local_|global_)?prefix$|^INIT_CWD$/i.test(name)) delete env[name];
  }
  return env;
}

async function npm(args: string[], cwd: string, timeoutMs = 60_000): Promise<CliResult> {
  return execFileAsync('npm', args, { cwd, env: npmEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number | string; killed?: boolean; stdout?: string; stderr?: string }) => ({
      code: typeof error.code === 'number' ? error.code : 1,
      stdout: error.stdout ?? '',
      stderr: `${error.stderr ?? ''}${error.killed ? `\nETIMEDOUT: npm killed after ${timeoutMs / 1000} s` : ''}${typeof error.code === 'string' ? `\n${error.code}` : ''}`,
    }),
  );
}

/**
 * The README's `npm install -g ./api7-audit-<version>.tgz`, into a prefix of the test's own. npm resolves the
 * dependencies' ranges from its cache first (--prefer-offline) and the registry for what is not there. A clean CI
 * machine has only run `npm ci`, which caches the tarballs of package-lock.json but not the registry's documents a
 * range is resolved from, so without the registry that install fails (ENOTCACHED, ECONNREFUSED, ...). Then the
 * package is laid out as `npm install -g` lays it out (lib/node_modules/NAME from the tarball, the bin/ and
 * share/man/ links) with the production dependencies of the checkout's node_modules copied beside it, in the places
 * package-lock.json gives them (`npm ls --omit=dev`). Either way the package's own files come from the tarball
 * alone and no devDependency is there; which way was taken is printed.
 */
async function installTarball(tarball: string): Promise<void> {
  const global = await npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--fetch-retries', '0', '--fetch-timeout', '15000', tarball], scratch);
  if (global.code === 0) {
    installedBy = 'npm install -g --prefix';
    installStderr = global.stderr;
    return;
  }
  const unreachable = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ERR_SOCKET_TIMEOUT|network|proxy/i.test(global.stderr);
  expect(unreachable, `npm install -g failed for another reason than the registry:\n${global.stderr}`).toBe(true);
  const dir = join(prefix, 'lib', 'node_modules', PKG.name);
  await mkdir(dir, { recursive: true });
  await execFileAsync('tar', ['-xzf', tarball, '-C', dir, '--strip-components=1']);
  const tree = await npm(['ls', '--omit=dev', '--all', '--parseable'], ROOT);
  const paths = tree.stdout.split('\n').filter((line) => line.startsWith(join(ROOT, 'node_modules') + '/'));
  expect(paths.length, `npm ls --omit=dev in the checkout: ${tree.stderr}`).toBeGreaterThan(Object.keys(PKG.dependencies).length - 1);
  for (const path of paths) {
    const target = join(dir, path.slice(ROOT.length));
    await mkdir(dirname(target), { recursive: true });
    // A nested dependency (a/node_modules/b) is copied with its parent; its own copy then finds it there.
    await cp(path, target, { recursive: true, force: false, errorOnExist: false, filter: (source) => !source.slice(path.length).includes('/node_modules/') });
  }
  await mkdir(join(prefix, 'bin'), { recursive: true });
  await symlink(join('..', 'lib', 'node_modules', PKG.name, 'bin', 'api7-audit.js'), join(prefix, 'bin', 'api7-audit'));
  await mkdir(join(prefix, 'share', 'man', 'man1'), { recursive: true });
  await symlink(join('..', '..', '..', 'lib', 'node_modules', PKG.name, 'man', 'api7-audit.1'), join(prefix, 'share', 'man', 'man1', 'api7-audit.1'));
  installedBy = `the production dependencies of the checkout's node_modules: the registry is unreachable (npm install -g: ${lastLine(global.stderr)})`;
}

const lastLine = (text: string) => text.trim().split('\n').filter((line) => /error/i.test(line))[0] ?? text.trim().split('\n').at(-1) ?? '';

/** The installed `api7-audit` from a directory outside the checkout, with only PATH (prefix first) and `env`. */
function installedCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = join(scratch, 'work')): Promise<CliResult> {
  return startProcess(join(prefix, 'bin', 'api7-audit'), args, {
    cwd,
    env: { PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: join(scratch, 'home-empty'), ...env },
    timeoutMs: 60_000,
  }).result;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'api7-audit-first-hour-'));
  prefix = join(scratch, 'prefix');
  for (const dir of ['work', 'home-empty', 'pack']) await mkdir(join(scratch, dir));
  // dist/ is built for the suite (`npm test` builds first); --ignore-scripts keeps `prepare` from rebuilding it under
  // the other test files.
  await access(join(ROOT, 'dist', 'main.js'));
  const packed = await npm(['pack', '--ignore-scripts', '--pack-destination', join(scratch, 'pack'), ROOT], scratch);
  expect(packed.code, packed.stderr).toBe(0);
  const tarball = join(scratch, 'pack', `${PKG.name}-${PKG.version}.tgz`);
  await access(tarball);
  await installTarball(tarball);
  installed = await realpath(join(prefix, 'lib', 'node_modules', PKG.name));
  schema = await createTestSchema('afh_pkg');
  await createDefaultTable(schema);
  await insertRows(schema, [
    ...Array.from({ length: 12 }, (_, i) => ({ age: `${i + 1} hours`, operator: i % 2 ? 'alice' : 'bob', operation: 'update', resource_type: 'route', resource_id: `r${i}`, source_ip: '10.0.0.1', source: 'api', before: { uri: '/a' }, after: { uri: '/b', plugins: { 'key-auth': { key: 'first-hour-secret-value' } } } })),
  ]);
}, 150_000);

afterAll(async () => {
  await schema?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('is a real install outside the checkout, with its runtime dependencies and no devDependency', async ({ annotate }) => {
    // Said in the report (vitest's annotations): the registry's absence is a different test, not a silent one.
    await annotate(`installed with ${installedBy}`, installedBy.startsWith('npm install') ? 'notice' : 'warning');
    expect(installedBy).toBeDefined();
    expect(installed.startsWith(ROOT)).toBe(false);
    expect(await realpath(join(prefix, 'bin', 'api7-audit'))).toBe(join(installed, 'bin', 'api7-audit.js'));
    const modules = await readdir(join(installed, 'node_modules'));
    for (const dependency of Object.keys(PKG.dependencies)) {
      const top = dependency.split('/')[0] as string;
      expect(modules, dependency).toContain(top);
    }
    for (const dev of ['typescript', 'vitest', 'esbuild', 'eslint']) expect(modules).not.toContain(dev);
  });

  it('installs only what the bundle loads at run time: PGlite and jq-wasm, nothing it holds itself', async () => {
    // 55 packages were installed (pg, kysely, commander... already in dist/, and 7 PGlite extensions that
    // pglite-socket asks for as peers); the bundle loads only these two from node_modules.
    expect(Object.keys(PKG.dependencies).sort()).toEqual(['@electric-sql/pglite', 'jq-wasm']);
    const installedPackages: string[] = [];
    for (const entry of await readdir(join(installed, 'node_modules'))) {
      if (entry.startsWith('.')) continue;
      if (!entry.startsWith('@')) installedPackages.push(entry);
      else for (const scoped of await readdir(join(installed, 'node_modules', entry))) installedPackages.push(`${entry}/${scoped}`);
    }
    expect(installedPackages.sort()).toEqual(['@electric-sql/pglite', 'jq-wasm']);
  });

  it('ships its Apache-2.0 LICENSE, and the license of every package bundled in dist/', async () => {
    const license = await readFile(join(installed, 'LICENSE'), 'utf8');
    expect(license).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    // The plain license: its appendix keeps the template's brackets, nobody's name was filled in.
    expect(license).toContain('Copyright [yyyy] [name of copyright owner]');
    // What dist/ holds, from its source maps (not from the build step that wrote the file).
    const bundled = new Set<string>();
    const dist = join(installed, 'dist');
    const maps = [join(dist, 'main.js.map'), ...(await readdir(join(dist, 'chunks'))).filter((n) => n.endsWith('.map')).map((n) => join(dist, 'chunks', n))];
    for (const map of maps) {
      for (const source of (JSON.parse(await readFile(map, 'utf8')) as { sources: string[] }).sources) {
        const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(source)?.[1];
        if (name) bundled.add(name);
      }
    }
    expect(bundled.size).toBeGreaterThan(20);
    for (const name of Object.keys(PKG.dependencies)) expect(bundled.has(name), name).toBe(false);
    const notices = await readFile(join(dist, 'THIRD-PARTY-LICENSES.txt'), 'utf8');
    const listed = new Set([...notices.matchAll(/^((?:@[^/\s]+\/)?[^@\s]+)@\S+ \([^)]+\)$/gm)].map((m) => m[1] as string));
    expect([...bundled].filter((name) => !listed.has(name))).toEqual([]);
    // Each with its own text: MIT's notice, BSD's (diff), Apache's (pglite-socket), pg-types' from its README.
    for (const [name, words] of [['pg-types', 'Permission is hereby granted'], ['diff', 'Redistributions in binary form'], ['kysely', 'Copyright'], ['@electric-sql/pglite-socket', 'Apache License']] as const) {
      const section = notices.split(/^-{78}$/m).find((part) => part.trimStart().startsWith(`${name}@`));
      expect(section, name).toContain(words);
    }
  });

  it('imports at run time only its dependencies and Node.js built-ins', async () => {
    const files = [join(installed, 'bin', 'api7-audit.js'), join(installed, 'dist', 'main.js'),
      ...(await readdir(join(installed, 'dist', 'chunks'))).filter((name) => name.endsWith('.js')).map((name) => join(installed, 'dist', 'chunks', name))];
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    const found = new Set<string>();
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      // A specifier of a static import, a dynamic import() or a bundled require(), not a method such as Buffer.from("id")
      // nor SQL's `from "schema"."table"` in history's precompiled statements (no specifier is followed by a dot).
      for (const m of text.matchAll(/(?<![.\w$])(?:from\s*|import\s*\(\s*|import\s*|(?:__)?require\s*\(\s*)"((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(?:\/[\w.@-]+)*)"(?!\.)/g)) found.add(m[1] as string);
    }
    const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
    // pg's optional native binding: required only with `native: true`, which api7-audit never passes.
    const foreign = [...found].filter((s) => !builtins.has(s) && !(packageOf(s) in PKG.dependencies) && s !== 'pg-native');
    expect(foreign).toEqual([]);
    expect([...found].filter((s) => !builtins.has(s)).map(packageOf)).toEqual(expect.arrayContaining(['@electric-sql/pglite', 'jq-wasm']));
  });

  it('ships every file its --help, man page and README point a user to', async () => {
    const texts = [
      (await installedCli(['seal', '--help'])).stdout,
      (await readFile(join(installed, 'man', 'api7-audit.1'), 'utf8')).replaceAll('\\-', '-'),
      await readFile(join(installed, 'dist', 'main.js'), 'utf8'),
      ...await Promise.all((await readdir(join(installed, 'dist', 'chunks'))).filter((n) => n.endsWith('.js')).map((n) => readFile(join(installed, 'dist', 'chunks', n), 'utf8'))),
      // The README's links for users (the layout, src/ and bench/ are for developers, in the checkout).
      (await readFile(join(installed, 'README.md'), 'utf8')).replace(/\(docs\/ARCHITECTURE\.md\)/g, ''),
    ];
    const named = new Set(texts.flatMap((text) => [...text.matchAll(/\b((?:docs\/decisions|examples)\/[\w.-]+\.(?:md|sql|ya?ml|crontab|sh|service|timer))\b/g)].map((m) => m[1] as string)));
    expect(named.size).toBeGreaterThan(5);
    const missing: string[] = [];
    for (const file of named) await access(join(installed, file)).catch(() => missing.push(file));
    expect(missing).toEqual([]);
  });

  it('prints its version and help, from any directory', async () => {
    for (const flag of ['--version', '-V', '-v', 'version']) {
      const result = await installedCli([flag]);
      expect([result.code, result.stdout.trim(), result.stderr], flag).toEqual([0, PKG.version, '']);
    }
    const help = await installedCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
  });

  it('prints completion scripts and installs its man page where man looks', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const result = await installedCli(['completion', shell]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('api7-audit');
    }
    // `source <(api7-audit completion bash)` completes a subcommand.
    const bash = await startProcess('bash', ['-c', 'source <(api7-audit completion bash) && COMP_WORDS=(api7-audit hist) COMP_CWORD=1 && _api7_audit_complete && echo "${COMPREPLY[@]}"'], {
      env: { PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: join(scratch, 'home-empty') },
    }).result;
    expect(bash.stdout.trim(), bash.stderr).toBe('history');
    const page = join(prefix, 'share', 'man', 'man1', 'api7-audit.1');
    expect((await lstat(page)).isSymbolicLink() || (await stat(page)).isFile()).toBe(true);
    expect(await realpath(page)).toBe(join(installed, 'man', 'api7-audit.1'));
  });

  it('runs every command of the demo, with the embedded database it carries', async () => {
    const work = join(scratch, 'work', 'demo');
    await mkdir(work);
    const runs: [string, string[]][] = [
      ['list', ['--demo', 'list', '--since', '7d', '--json']],
      ['show', ['--demo', 'show', '5290', '--output', 'json']],
      ['history', ['--demo', 'history', 'route:c0618158', '--output', 'ndjson']],
      ['stats', ['--demo', 'stats', '--since', '7d', '--json']],
      ['follow', ['--demo', 'follow', '--since', '1d', '--for', '2s', '--output', 'ndjson']],
      ['export', ['--demo', 'export', '--out', 'f.ndjson', '--json']],
      ['jq', ['--demo', 'list', '--limit', '3', '--jq', '.[].operator']],
    ];
    // Two at a time: each starts its own embedded PostgreSQL (WebAssembly), on a machine of two cores. The bound is
    // for "does not hang": 7 runs took 85-118 s at a load average of 13-17 while other files ran.
    const results: Record<string, CliResult> = {};
    for (let i = 0; i < runs.length; i += 2) {
      await Promise.all(runs.slice(i, i + 2).map(async ([name, args]) => {
        results[name] = await installedCli(args, {}, work);
      }));
    }
    for (const [name, result] of Object.entries(results)) expect(result.code, `${name}: ${result.stderr}`).toBe(0);
    const r = (name: string) => results[name] as CliResult;
    expect((JSON.parse(r('list').stdout) as { operator: string }[]).length).toBeGreaterThan(0);
    expect(JSON.parse(r('show').stdout)).toMatchObject({ id: '5290', operator: 'alice', resource_id: 'c0618158' });
    expect(r('history').stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toContain('5290');
    expect((JSON.parse(r('stats').stdout) as { views: unknown[] }).views.length).toBeGreaterThan(0);
    expect(r('follow').stdout.trim().split('\n').length).toBeGreaterThan(0);
    expect(JSON.parse(r('export').stdout)).toMatchObject({ exported: 6000 });
    const exported = await readFile(join(work, 'f.ndjson'), 'utf8');
    expect(exported.trim().split('\n')).toHaveLength(6000);
    expect((await stat(join(work, 'f.ndjson'))).mode & 0o777).toBe(0o600);
    // jq-wasm is outside the bundle (it reads jq.wasm beside its module): strings come out raw.
    expect(r('jq').stdout.trim().split('\n')).toHaveLength(3);
    expect(r('jq').stdout).not.toContain('"');
  }, 300_000);

  it('takes --demo after the command too (list, history), and exports the demo to stdout', async () => {
    const work = join(scratch, 'work', 'demo-after');
    await mkdir(work);
    const [list, exported] = await Promise.all([
      installedCli(['list', '--demo', '--limit', '4', '--output', 'csv'], {}, work),
      installedCli(['export', '--demo', '--out', '-'], {}, work),
    ]);
    const history = await installedCli(['history', 'route:c0618158', '--demo', '--output', 'ndjson'], {}, work);
    expect([list.code, exported.code, history.code], `${list.stderr}${exported.stderr}${history.stderr}`).toEqual([0, 0, 0]);
    expect(history.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { resource_id: string }).resource_id)).toContain('c0618158');
    expect(list.stdout.trim().split('\n')).toHaveLength(5);
    const ids = exported.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    expect(new Set(ids).size).toBe(6000);
    expect(exported.stderr).toMatch(/^exported 6,000 entries to stdout/m);
  }, 300_000);

  it('follows the README on a real server: init writes the config, doctor checks it, list reads through it', async () => {
    const home = join(scratch, 'home-init');
    await mkdir(home);
    const env = { HOME: home, API7_AUDIT_DATABASE_URL: databaseUrl() };
    const init = await installedCli(['init', '--schema', schema.name, '--yes'], env);
    expect(init.code, init.stderr).toBe(0);
    const file = join(home, '.config', 'api7-audit', 'config.yaml');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toMatch(new RegExp(`^table: ${schema.name}\\.audit_logs$`, 'm'));
    expect(init.stderr).toContain('api7-audit doctor');

    const doctor = await installedCli(['doctor', '--json'], env);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    // doctor's checks of privileges and indexes need a real server; the embedded one answers some with failures.
    if (!isEmbedded()) expect([doctor.code, report.ok, report.checks.filter((c) => c.status === 'fail')], doctor.stderr).toEqual([0, true, []]);
    else expect(doctor.code).toBeLessThan(2);
    expect(report.checks.find((c) => c.name === 'found')?.status).toBe('ok');

    const list = await installedCli(['list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const entries = JSON.parse(list.stdout) as { after: unknown }[];
    expect(entries).toHaveLength(12);
    expect(list.stdout).not.toContain('first-hour-secret-value');
    const jq = await installedCli(['list', '--operator', 'alice', '--jq', '.[].operator'], env);
    expect([jq.code, jq.stdout], jq.stderr).toEqual([0, 'alice\n'.repeat(6)]);
  });

  it('reads a config file from --config, API7_AUDIT_CONFIG and $XDG_CONFIG_HOME, never from the working directory', async () => {
    const dir = join(scratch, 'config-dirs');
    await mkdir(join(dir, 'xdg', 'api7-audit'), { recursive: true });
    const yaml = `database:\n  url: ${databaseUrl()}\ntable: ${schema.name}.audit_logs\n`;
    const file = join(dir, 'mine.yaml');
    await writeFile(file, yaml, { mode: 0o600 });
    await writeFile(join(dir, 'xdg', 'api7-audit', 'config.yaml'), yaml, { mode: 0o600 });
    await chmod(file, 0o600);
    const count = (result: CliResult) => (result.code === 0 ? (JSON.parse(result.stdout) as unknown[]).length : result.stderr);
    expect(count(await installedCli(['--config', file, 'list', '--json']))).toBe(12);
    expect(count(await installedCli(['list', '--json'], { API7_AUDIT_CONFIG: file }))).toBe(12);
    expect(count(await installedCli(['list', '--json'], { XDG_CONFIG_HOME: join(dir, 'xdg') }))).toBe(12);
    // A relative --config is the working directory's; ./api7-audit.yaml alone is only pointed out.
    const work = join(scratch, 'work', 'cwd-config');
    await mkdir(work);
    await writeFile(join(work, 'api7-audit.yaml'), yaml, { mode: 0o600 });
    expect(count(await installedCli(['--config', 'api7-audit.yaml', 'list', '--json'], {}, work))).toBe(12);
    const ignored = await installedCli(['--db', databaseUrl(), '--table', `${schema.name}.audit_logs`, 'list', '--json'], {}, work);
    expect(ignored.code).toBe(0);
    expect(ignored.stderr).toContain('notice: ./api7-audit.yaml is ignored');
  });
});

// npm 11 lists, after an install, the dependencies whose install-time scripts (preinstall, install, postinstall, and
// `prepare` for a source that is not a registry: a git URL, a directory, a tarball file) the project's allowScripts
// does not cover. The tarball carried `prepare` (the checkout's build; its scripts/ is not in the tarball, and npm
// does not run it for a tarball anyway), and the checkout's esbuild has a postinstall.
describe('installing says nothing to worry about (npm 11 allowScripts)', () => {
  const INSTALL_TIME = ['preinstall', 'install', 'postinstall', 'prepare'];
  it('the tarball has no install-time script, and `npm install -g` of it prints no warning', async ({ annotate }) => {
    const packed = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(Object.keys(packed.scripts ?? {}).filter((name) => INSTALL_TIME.includes(name))).toEqual([]);
    if (!installedBy.startsWith('npm install')) await annotate('the registry is unreachable: npm install -g did not run to its end', 'warning');
    expect(installStderr.split('\n').filter((line) => /^npm (warn|error)/i.test(line))).toEqual([]);
  });

  it('`npm ci` in a copy of the checkout builds dist/ and prints no warning; no dependency script is unreviewed', async ({ annotate }) => {
    // What `npm ci` would list: read from the checkout's node_modules, no registry needed.
    const pending = await npm(['install-scripts', 'ls', '--json'], ROOT);
    expect(pending.code, pending.stderr).toBe(0);
    expect((JSON.parse(pending.stdout) as { allowScripts: unknown[] }).allowScripts).toEqual([]);
    // The README's set-up: `npm ci` in a clone, from the files git tracks (tests and bench left out: not needed to build).
    const clone = join(scratch, 'clone');
    const tracked = (await execFileAsync('git', ['ls-files', '-z'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })).stdout.split('\0');
    for (const file of tracked.filter((name) => name !== '' && !/^(test|bench)\//.test(name))) {
      await mkdir(dirname(join(clone, file)), { recursive: true });
      await cp(join(ROOT, file), join(clone, file));
    }
    const ci = await npm(['ci', '--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries', '0', '--fetch-timeout', '15000'], clone, 120_000);
    if (ci.code !== 0 && /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|network/i.test(ci.stderr)) {
      await annotate(`npm ci could not reach the registry: ${lastLine(ci.stderr)}`, 'warning');
      return;
    }
    expect(ci.code, ci.stderr).toBe(0);
    expect(ci.stderr.split('\n').filter((line) => /^npm (warn|error)/i.test(line))).toEqual([]);
    await access(join(clone, 'dist', 'main.js'));
    // esbuild's postinstall ran (it puts the native binary in place of its JavaScript launcher): allowed, not skipped.
    const esbuild = await execFileAsync(join(clone, 'node_modules', '.bin', 'esbuild'), ['--version']);
    expect(esbuild.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 180_000);
});
