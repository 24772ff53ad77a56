import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { BlockList, isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoDatabase, type DemoDatabase } from '../../src/demo/database.js';
import type { AuditEntry } from '../../src/domain.js';
import { BIN, spawnCli, startProcess, type CliResult } from '../support/cli.js';
import { createCustomLayout } from '../support/custom-layout.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';

// Every example command of the README and of every --help, taken from the files and from the built binary (so an
// example added later is run too), runs as shipped through bash with `api7-audit` on PATH against the demo
// database, and must show something that proves what the example promises.
//
// One demo database serves all of them: a --demo start costs about 4 s of CPU (18 s on a loaded 2-core machine),
// so it is started once here by the binary's own code (startDemoDatabase) and given as API7_AUDIT_DATABASE_URL;
// examples that say --demo start their own. Sinks are local fakes; shipped paths point into a scratch directory.

const ROOT = new URL('../../', import.meta.url).pathname;
const README = await readFile(join(ROOT, 'README.md'), 'utf8');
const EXAMPLE_FILES = (await readdir(join(ROOT, 'examples'))).map((name) => join(ROOT, 'examples', name));
const DAY = 86_400_000;
/** The placeholder retention of the control plane's conf.yaml that the prune examples read with --cp-config. */
const CP_RETENTION_DAYS = 75;
/** Flags the README or examples/ name that belong to other programs. */
const FOREIGN_FLAGS: Record<string, string> = {
  '--rows': 'npm run bench',
  '--only': 'npm run bench',
  '--runs': 'npm run bench',
  '--shape': 'npm run bench',
  '--max-old-space-size': 'node',
  '--max-semi-space-size': 'node',
  '--trace-gc-nvp': 'node',
  '--trace-gc': 'node',
  '--now': 'systemctl enable',
  '--system': 'useradd',
  '--watch': 'kubectl get',
};

interface Example {
  where: string[];
  command: string;
}

const ENV_PREFIX = /^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)/;

/** The `api7-audit ...` commands of a shell line (npx dropped, variable assignments kept); other commands are not examples. */
function commandsOf(line: string): string[] {
  return line
    .replace(/\s+#\s.*$/, '')
    .split('&&')
    .map((segment) => segment.trim().replace(new RegExp(`${ENV_PREFIX.source}npx\\s+`), '$1'))
    .filter((segment) => new RegExp(`${ENV_PREFIX.source}api7-audit(\\s|$)`).test(segment));
}

function readmeExamples(): Example[] {
  const out: Example[] = [];
  let shell = false;
  README.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) {
      shell = line.trim() === '```sh';
      return;
    }
    if (shell) for (const command of commandsOf(line)) out.push({ where: [`README.md:${i + 1}`], command });
  });
  return out;
}

/** Each command's --help from the built binary, keyed by how it is asked for. */
async function helpTexts(): Promise<Record<string, string>> {
  const main = await spawnCli(['--help']);
  expect(main.code, main.stderr).toBe(0);
  const listing = /\nCommands:\n([\s\S]*?)(\n\n|$)/.exec(main.stdout)?.[1] ?? '';
  // Command lines are indented by two spaces; wrapped descriptions by more.
  const names = [...listing.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1] ?? '').filter((name) => name !== 'help');
  expect(names).toEqual(expect.arrayContaining(['list', 'show', 'prune', 'export']));
  const texts: Record<string, string> = { '--help': main.stdout };
  for (const name of names) {
    const help = await spawnCli([name, '--help']);
    expect(help.code, help.stderr).toBe(0);
    texts[`${name} --help`] = help.stdout;
  }
  return texts;
}

/** `$ command   description` lines of a help text; a line that is no api7-audit command must only set a variable. */
function helpExamples(where: string, text: string): Example[] {
  const out: Example[] = [];
  for (const match of text.matchAll(/^\s+\$ (.+)$/gm)) {
    const line = (match[1] ?? '').split(/\s{2,}/)[0] ?? '';
    const commands = commandsOf(line);
    if (commands.length === 0) expect(line, `${where}: an example line that is not an api7-audit command`).toMatch(/^export [A-Z_0-9]+=/);
    for (const command of commands) out.push({ where: [where], command });
  }
  return out;
}

function dedupe(examples: Example[]): Example[] {
  const byCommand = new Map<string, Example>();
  for (const example of examples) {
    const seen = byCommand.get(example.command);
    if (seen) seen.where.push(...example.where);
    else byCommand.set(example.command, { ...example, where: [...example.where] });
  }
  return [...byCommand.values()];
}

/** The arguments of the api7-audit invocation in a command (up to a pipe or redirection), and its subcommand. */
function invocation(command: string): { args: string[]; sub: string } {
  const words = command.replace(ENV_PREFIX, '').split(/\s*[|>]/)[0]?.trim().split(/\s+/).slice(1) ?? [];
  const sub = words.find((word) => /^(list|show|prune|export)$/.test(word)) ?? '';
  return { args: words, sub };
}

function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
}

/** A duration of the examples (30m, 24h, 7d, 2w) in ms. */
function duration(text: string): number {
  const match = /^(\d+)([mhdw])$/.exec(text);
  expect(match, `a duration in an example: ${text}`).not.toBeNull();
  const unit = { m: 60_000, h: 3_600_000, d: DAY, w: 7 * DAY }[(match?.[2] ?? 'd') as 'm' | 'h' | 'd' | 'w'];
  return Number(match?.[1]) * unit;
}

let demo: DemoDatabase;
let client: pg.Client;
let scratch: string;
let binDir: string;
let cpConf: string;
const sinks: { hec?: FakeHec; es?: FakeElastic; dd?: FakeDatadog; servers: FakeServer[] } = { servers: [] };
let help: Record<string, string>;
let examples: Example[];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'api7-audit-readme-'));
  binDir = join(scratch, 'bin');
  await mkdir(binDir);
  // As `npm install -g` puts it on PATH.
  await writeFile(join(binDir, 'api7-audit'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  await chmod(join(binDir, 'api7-audit'), 0o755);
  cpConf = join(scratch, 'cp-conf.yaml');
  await writeFile(cpConf, `audit:\n  retention_days: ${CP_RETENTION_DAYS}\n`);
  // The examples' own placeholders ('...') are the credentials the receivers expect.
  const [hec, es, dd] = await Promise.all([FakeHec.start({ token: '...' }), FakeElastic.start({ apiKey: '...' }), FakeDatadog.start({ apiKey: '...' })]);
  Object.assign(sinks, { hec: hec.hec, es: es.es, dd: dd.dd });
  sinks.servers.push(hec.server, es.server, dd.server);
  demo = await startDemoDatabase();
  client = new pg.Client({ connectionString: demo.url });
  await client.connect();
  await client.query('CREATE SCHEMA w2_snapshot; CREATE TABLE w2_snapshot.entries AS SELECT * FROM audit_logs');
  help = await helpTexts();
  examples = dedupe([...readmeExamples(), ...Object.entries(help).flatMap(([where, text]) => helpExamples(where, text))]);
}, 180_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await demo?.stop();
  await Promise.all(sinks.servers.map((server) => server.close()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const sinkUrl = (i: number): string => sinks.servers[i]?.url ?? '';

/** Points an example's destinations at the local receivers and its shipped paths into `dir`. */
function localize(command: string, dir: string): string {
  return command
    .replace(/--hec-url \S+/g, `--hec-url ${sinkUrl(0)}`)
    .replace(/--elastic-url \S+/g, `--elastic-url ${sinkUrl(1)}`)
    // Datadog's intake for a site is on the internet: the same export goes to the local receiver by URL.
    .replace(/--datadog-site \S+/g, `--datadog-url ${sinkUrl(2)}`)
    .replaceAll('/var/lib/api7-audit/', `${dir}/`)
    .replaceAll('/usr/local/api7/conf/conf.yaml', cpConf);
}

function env(): NodeJS.ProcessEnv {
  return {
    PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin`,
    HOME: scratch,
    API7_AUDIT_DATABASE_URL: demo.url,
    API7_AUDIT_HEC_TOKEN: '...',
    API7_AUDIT_ELASTIC_API_KEY: '...',
    DD_API_KEY: '...',
  };
}

/** Runs a command line in bash (pipefail: a failing api7-audit before `| jq` fails the line), killed after 60 s. */
function bash(command: string, cwd: string): Promise<CliResult> {
  return startProcess('bash', ['-o', 'pipefail', '-c', command], { cwd, env: env() }).result;
}

async function count(where = 'true'): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM audit_logs WHERE ${where}`);
  return Number(rows[0]?.n);
}

/** Puts the demo's entries back (those matching `where`), as a prune example found them. */
async function restore(where = 'true'): Promise<void> {
  await client.query(`BEGIN; TRUNCATE audit_logs; INSERT INTO audit_logs SELECT * FROM w2_snapshot.entries WHERE ${where}; COMMIT`);
}

const olderThan = (days: number, slackMinutes: number) => `created_at < now() - interval '${days} days' + interval '${slackMinutes} minutes'`;

function received(): { hec: number; es: number; dd: number } {
  return { hec: sinks.hec?.ids.ids.length ?? 0, es: sinks.es?.received.ids.length ?? 0, dd: sinks.dd?.ids.ids.length ?? 0 };
}

/** Lines of the files an example wrote in its directory (gunzipped), by name. */
async function filesIn(dir: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of await readdir(dir)) {
    if (name.endsWith('.json')) continue;
    const bytes = await readFile(join(dir, name));
    out[name] = (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split('\n').filter(Boolean);
  }
  return out;
}

/** The entries a list example's filters select, read again as NDJSON, each checked against those filters. */
async function checkListed(args: string[], cursorAfter?: AuditEntry[]): Promise<AuditEntry[]> {
  // --demo data is the same as the shared demo database's: read it there rather than start another.
  const plain = args.filter((arg, i) => !['--json', '--output', '-o', '--demo'].includes(arg) && !['--output', '-o'].includes(args[i - 1] ?? ''));
  const started = Date.now();
  const result = await spawnCli([...plain, '--output', 'ndjson'], { env: env() });
  expect(result.code, result.stderr).toBe(0);
  const entries = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);
  expect(entries.length, `no entries for ${plain.join(' ')}`).toBeGreaterThan(0);
  const operators = values(args, '--operator');
  const operations = values(args, '--operation').map((op) => op.toLowerCase());
  const resources = values(args, '--resource').map((r) => r.split(':'));
  const sources = values(args, '--source');
  const ips = new BlockList();
  for (const cidr of values(args, '--ip')) {
    const [net = '', bits] = cidr.split('/');
    const family = isIPv6(net) ? 'ipv6' : 'ipv4';
    ips.addSubnet(net, Number(bits ?? (family === 'ipv6' ? 128 : 32)), family);
  }
  const since = values(args, '--since')[0];
  const until = values(args, '--until')[0];
  for (const e of entries) {
    if (operators.length) expect(operators).toContain(e.operator);
    if (operations.length) expect(operations).toContain(e.operation?.toLowerCase());
    if (resources.length) expect(resources.some(([type, id]) => e.resource_type === type && (id === undefined || e.resource_id === id))).toBe(true);
    if (sources.length) expect(sources).toContain(e.source);
    if (values(args, '--ip').length) expect(ips.check(e.source_ip ?? '', isIPv6(e.source_ip ?? '') ? 'ipv6' : 'ipv4')).toBe(true);
    const at = Date.parse(e.timestamp);
    if (since) expect(at).toBeGreaterThanOrEqual(started - duration(since) - 60_000);
    if (until) expect(at).toBeLessThan(Date.now() - duration(until) + 60_000);
  }
  const times = entries.map((e) => Date.parse(e.timestamp));
  const asc = values(args, '--order')[0] === 'asc';
  expect(times.every((t, i) => i === 0 || (asc ? t >= (times[i - 1] ?? t) : t <= (times[i - 1] ?? t)))).toBe(true);
  const limit = values(args, '--limit')[0] ?? values(args, '-n')[0];
  if (!args.includes('--all')) expect(entries.length).toBeLessThanOrEqual(Number(limit ?? 50));
  if (cursorAfter) {
    const first = new Set(cursorAfter.map((e) => e.id));
    expect(entries.some((e) => first.has(e.id))).toBe(false);
    expect(times[0]).toBeLessThanOrEqual(Date.parse(cursorAfter.at(-1)?.timestamp ?? ''));
  }
  return entries;
}

/** What the example promises, beyond exiting 0 with output. */
async function checkExample(command: string, result: CliResult, dir: string, before: ReturnType<typeof received>, context: { cursorAfter?: AuditEntry[]; oldRows: number; rows: number }): Promise<void> {
  const { args, sub } = invocation(command);
  const files = await filesIn(dir);
  const redirected = /\s>\s*(\S+)/.exec(command)?.[1];
  if (sub === 'list') {
    const entries = await checkListed(args, context.cursorAfter);
    const shown = redirected ? (files[redirected] ?? []).join('\n') : result.stdout;
    // The example's own output holds the rows that the same filters select.
    if (!command.includes('|')) expect(shown).toContain(entries[0]?.id);
    if (values(args, '--output').includes('csv')) expect((files[redirected ?? ''] ?? []).length).toBe(entries.length + 1);
  } else if (sub === 'show') {
    const id = args[args.indexOf('show') + 1] ?? '';
    if (command.includes("jq '.changes'")) {
      const changes = JSON.parse(result.stdout) as unknown[];
      expect(changes.length).toBeGreaterThan(0);
    } else {
      expect(result.stdout).toContain(id);
      // A before/after diff: a hunk with lines taken away and lines added, not only the --- / +++ headers.
      expect(result.stdout).toMatch(/^@@ /m);
      expect(result.stdout).toMatch(/^-(?!-- )/m);
      expect(result.stdout).toMatch(/^\+(?!\+\+ )/m);
    }
  } else if (sub === 'export') {
    const after = received();
    const sent = after.hec - before.hec + after.es - before.es + after.dd - before.dd;
    if (args.includes('--dry-run')) {
      expect(sent).toBe(0);
    } else if (args.includes('--out')) {
      const out = values(args, '--out')[0] ?? '';
      const lines = out === '-' ? result.stdout.split('\n').filter((line) => line.startsWith('{')) : Object.values(files).flat();
      if (out !== '-') expect(Object.keys(files)).toHaveLength(1);
      expect(lines.length).toBeGreaterThan(0);
      const operators = values(args, '--operator');
      if (operators.length) {
        const named = [...result.stdout.matchAll(/"operator": ?"([^"]*)"/g)].map((m) => m[1]);
        expect(named.length).toBeGreaterThan(0);
        expect(new Set(named)).toEqual(new Set(operators));
      }
    } else {
      expect(sent, `nothing reached the receiver for: ${command}`).toBeGreaterThan(0);
    }
  } else if (sub === 'prune') {
    const retention = Number(values(args, '--retention-days')[0] ?? (args.includes('--cp-config') ? CP_RETENTION_DAYS : 60));
    const rows = await count();
    if (args.includes('--dry-run')) {
      expect(rows).toBe(context.rows);
      expect(`${result.stdout}${result.stderr}`.replaceAll(',', '')).toContain(`${context.oldRows} entries`);
      return;
    }
    const deleted = context.rows - rows;
    expect(deleted).toBeGreaterThan(0);
    if (!args.includes('--only-exported')) expect(await count(olderThan(retention, -1))).toBe(0);
    if (args.includes('--json')) expect(JSON.parse(result.stdout)).toMatchObject({ deleted, retention_days: retention });
    const archive = values(args, '--archive')[0];
    if (archive) {
      const archived = Object.entries(files).filter(([name]) => /^pruned-\d{4}-\d{2}-\d{2}\.ndjson\.gz$/.test(name));
      expect(archived).toHaveLength(1);
      expect(archived[0]?.[1]).toHaveLength(deleted);
    }
    if (args.includes('--only-exported')) {
      // The checkpoint covers entries older than 70 days: the younger ones before the cutoff stay.
      expect(await count(`NOT (${olderThan(70, 1)}) AND ${olderThan(retention, -1)}`)).toBeGreaterThan(0);
      expect(await count(olderThan(70, -1))).toBe(0);
    }
  }
}

describe('README and --help examples on the demo database', () => {
  it('finds the examples: README, the program and every command', () => {
    const where = new Set(examples.flatMap((e) => e.where.map((w) => w.replace(/:\d+$/, ''))));
    expect([...where].sort()).toEqual(['--help', 'README.md', 'doctor --help', 'export --help', 'follow --help', 'history --help', 'init --help', 'list --help', 'prune --help', 'show --help', 'stats --help']);
    expect(examples.length).toBeGreaterThanOrEqual(25);
  });

  it('every example exits 0 and shows what it promises', async () => {
    // Reads first; prunes last, each on the demo's full set of entries.
    const ordered = [...examples].sort((a, b) => Number(invocation(a.command).sub === 'prune') - Number(invocation(b.command).sub === 'prune'));
    const failures: string[] = [];
    let n = 0;
    for (const example of ordered) {
      const dir = join(scratch, `example-${n++}`);
      await mkdir(dir);
      let command = localize(example.command, dir);
      const context: { cursorAfter?: AuditEntry[]; oldRows: number; rows: number } = { oldRows: 0, rows: 0 };
      if (command.includes('<value printed after the previous page>')) {
        // The page before: the same command without --cursor, whose stderr names the cursor.
        const first = invocation(command.replace(/--cursor <[^>]*>/, '')).args;
        const page = await spawnCli(first, { env: env() });
        const cursor = /Next page: --cursor (\S+)/.exec(page.stderr)?.[1];
        expect(cursor, page.stderr).toBeDefined();
        context.cursorAfter = await checkListed(first);
        command = command.replace(/<value printed after the previous page>/, `'${cursor}'`);
      }
      if (invocation(command).sub === 'prune') {
        const exported = values(invocation(command).args, '--only-exported')[0];
        if (exported) {
          // The export this prune waits for has shipped the entries older than 70 days.
          await restore(olderThan(70, 0));
          const shipped = await spawnCli(['export', '--hec-url', sinkUrl(0), '--checkpoint', exported], { env: env() });
          expect(shipped.code, shipped.stderr).toBe(0);
        }
        await restore();
        context.rows = await count();
        context.oldRows = await count(olderThan(60, 0));
      }
      const before = received();
      const result = await bash(command, dir);
      const label = `${example.where.join(', ')}: ${command}`;
      try {
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).not.toMatch(/^error:/m);
        expect(`${result.stdout}${result.stderr}`).not.toMatch(/No audit entries match/);
        const wrote = Object.values(await filesIn(dir)).some((lines) => lines.length > 0);
        expect(`${result.stdout}${result.stderr}`.trim().length > 0 || wrote, 'no output and no file').toBe(true);
        await checkExample(command, result, dir, before, context);
      } catch (error) {
        failures.push(`${label}\n  ${(error as Error).message.split('\n').slice(0, 6).join('\n  ')}\n  stderr: ${result.stderr.slice(0, 400)}`);
      }
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 300_000);

  it('export --out appends: running the README example twice holds its entries twice', async () => {
    const example = examples.find((e) => /export --out .*\.ndjson\.gz/.test(e.command));
    expect(example).toBeDefined();
    const dir = join(scratch, 'append');
    await mkdir(dir);
    const command = localize(example?.command ?? '', dir);
    expect((await bash(command, dir)).code).toBe(0);
    const once = Object.values(await filesIn(dir)).flat();
    expect((await bash(command, dir)).code).toBe(0);
    const twice = Object.values(await filesIn(dir)).flat();
    expect(once.length).toBeGreaterThan(0);
    expect(twice).toEqual([...once, ...once]);
    expect(README).toMatch(/`--out FILE` appends to FILE and never truncates it/);
    expect(help['export --help']?.replace(/\s+/g, ' ')).toMatch(/--out FILE appends to an existing FILE .* and never truncates it/);
  });
});

describe('the flags and commands that the README and examples/ name', () => {
  it('every --flag exists in some --help', async () => {
    const known = new Set(Object.values(help).flatMap((text) => [...text.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0])));
    const texts = [README, ...(await Promise.all(EXAMPLE_FILES.map((file) => readFile(file, 'utf8'))))];
    const named = new Set(texts.flatMap((text) => [...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0])));
    const unknown = [...named].filter((flag) => !known.has(flag) && !(flag in FOREIGN_FLAGS));
    expect(unknown).toEqual([]);
    expect(named.has('--operator') && named.has('--archive')).toBe(true);
  });

  it('every `api7-audit WORD` and every command that schema.sql names exists', async () => {
    // Every command the binary registers (its --help lists them), so a new command needs nothing here.
    const commands = new Set(['help', ...Object.keys(help).filter((key) => key !== '--help').map((key) => key.replace(/ --help$/, ''))]);
    const shipped = EXAMPLE_FILES.filter((file) => !file.endsWith('.sql'));
    // Command lines only: the README's shell examples and code spans, the shipped files without their comments.
    const texts = [
      ...readmeExamples().map((e) => e.command),
      ...[...README.matchAll(/`(api7-audit [^`]*)`/g)].map((m) => m[1] ?? ''),
      ...(await Promise.all(shipped.map((file) => readFile(file, 'utf8')))).map((text) =>
        text.split('\n').filter((line) => !/^\s*#/.test(line)).join('\n')),
    ];
    const words = texts.flatMap((text) => [...text.matchAll(/(?<![\w/.-])api7-audit ([a-z][a-z-]*)\b/g)].map((m) => m[1] ?? ''));
    expect(words.length).toBeGreaterThan(10);
    expect(words.filter((word) => !commands.has(word))).toEqual([]);
    const schema = await readFile(join(ROOT, 'examples/schema.sql'), 'utf8');
    // A code span that is one word, or a word and its --flags, names a command (`prune`, `list --resource ...`).
    const spans = [...schema.matchAll(/`([a-z_]+)(?:`| --)/g)].map((m) => m[1] ?? '');
    expect(spans.length).toBeGreaterThan(0);
    expect(spans.filter((word) => !commands.has(word))).toEqual([]);
  });
});

describe('the README says what the binary and the shipped files need', () => {
  let schema: TestSchema | undefined;
  afterAll(() => schema?.drop());

  it('its configuration block maps a table of another layout', async () => {
    schema = await createTestSchema('acc_readme');
    await createCustomLayout(schema, 30);
    const block = /```yaml\n([\s\S]*?)```/.exec(README)?.[1] ?? '';
    expect(block).toMatch(/^table: cp\.audit_events\b/m);
    const dir = join(scratch, 'config');
    await mkdir(dir);
    const file = join(dir, 'api7-audit.yaml');
    await writeFile(file, block.replace(/^( {2}url:) .*$/m, `$1 ${databaseUrl()}`).replace('cp.audit_events', `${schema.name}.audit_events`), { mode: 0o600 });
    const result = await spawnCli(['--config', file, 'list', '--operator', 'alice', '--json'], { env: { HOME: scratch } });
    expect(result.code, result.stderr).toBe(0);
    const entries = JSON.parse(result.stdout) as AuditEntry[];
    expect(entries.length).toBe(10);
    expect(entries.every((e) => e.operator === 'alice' && e.id.startsWith('ev-'))).toBe(true);
  });

  it('installs from the tarball it names: the unpacked package runs on its own', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    const named = /npm install -g \.\/(\S+\.tgz)/.exec(README)?.[1];
    expect(named).toBe(`${pkg.name}-${pkg.version}.tgz`);
    const dir = join(scratch, 'pack');
    await mkdir(dir);
    // dist/ is already built for the suite; --ignore-scripts keeps `prepare` from rebuilding it under other tests.
    const packed = await bash(`npm pack --ignore-scripts --pack-destination '${dir}' '${ROOT}' && tar -xzf '${dir}/${named}' -C '${dir}'`, dir);
    expect(packed.code, packed.stderr).toBe(0);
    // What `npm install -g` adds besides the package: its runtime dependencies (taken from the checkout here).
    await symlink(join(ROOT, 'node_modules'), join(dir, 'package', 'node_modules'));
    const bin = join(dir, 'package', 'bin', 'api7-audit.js');
    const version = await bash(`node '${bin}' --version`, dir);
    expect(version.stdout.trim()).toBe(pkg.version);
    const listed = await bash(`node '${bin}' list --operator alice --since 7d --json`, dir);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as AuditEntry[]).map((e) => e.operator)).toEqual(expect.arrayContaining(['alice']));
    // The README's first line runs `npx api7-audit` in the checkout: it must be this package's bin, never a download.
    const npx = await bash('npx --no -- api7-audit --version', ROOT);
    expect(npx.stdout.trim()).toBe(pkg.version);
  });

  it('names every directory the systemd unit and the crontab line need', async () => {
    const unit = await readFile(join(ROOT, 'examples/api7-audit-prune.service'), 'utf8');
    const crontab = await readFile(join(ROOT, 'examples/prune.crontab'), 'utf8');
    const dirs = new Set([
      ...[...unit.matchAll(/ReadWritePaths=(\S+)/g)].map((m) => m[1]),
      ...[...`${unit}\n${crontab}`.matchAll(/(\/(?:etc|var\/backups|var\/log)\/api7-audit)\//g)].map((m) => m[1]),
    ]);
    expect([...dirs].sort()).toEqual(['/etc/api7-audit', '/var/backups/api7-audit', '/var/log/api7-audit']);
    const install = /`useradd[^`]*install -d[^`]*`/.exec(README.replace(/\n\s*/g, ' '))?.[0] ?? '';
    for (const dir of dirs) expect(install).toContain(` ${dir}`);
  });
});
