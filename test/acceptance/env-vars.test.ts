import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

// Each way of naming the database, through the built binary (npm run build first): --db, API7_AUDIT_DATABASE_URL,
// DATABASE_URL, database.url of a config file given by --config, and the libpq variables; and their order, each
// one beating every later one, never falling back to a later one when it fails. Runs in an empty HOME and working
// directory so that no config file of the machine is picked up.

const BAD_PASSWORD = 'Refused-Pw-42';
const REFUSED = `postgres://auditor:${BAD_PASSWORD}@127.0.0.1:1/nowhere`;
let schema: TestSchema;
let home: string;
let ids: string[];

type Source = 'flag' | 'API7_AUDIT_DATABASE_URL' | 'DATABASE_URL' | 'config' | 'PG*';
const ORDER: Source[] = ['flag', 'API7_AUDIT_DATABASE_URL', 'DATABASE_URL', 'config', 'PG*'];
/** How a connection error names each source (a pattern). */
const LABELS: Record<Source, string> = {
  flag: '--db',
  API7_AUDIT_DATABASE_URL: 'API7_AUDIT_DATABASE_URL',
  DATABASE_URL: 'DATABASE_URL',
  config: "config file '[^']+config-\\d+\\.yaml'",
  'PG*': 'PGHOST, PGPORT, PGUSER',
};

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'api7-env-'));
  schema = await createTestSchema('acc_env');
  await createDefaultTable(schema);
  ids = await insertRows(schema, Array.from({ length: 4 }, (_, i) => ({ age: `${i + 1} hours`, operator: `op-${i}`, operation: 'UPDATE' })));
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(home, { recursive: true, force: true })]);
});

/** The libpq variables naming `url`'s server, user and database. */
function libpq(url: string): NodeJS.ProcessEnv {
  const parsed = new URL(url);
  return {
    PGHOST: parsed.hostname,
    PGPORT: parsed.port || '5432',
    PGUSER: decodeURIComponent(parsed.username),
    ...(parsed.password ? { PGPASSWORD: decodeURIComponent(parsed.password) } : {}),
    PGDATABASE: decodeURIComponent(parsed.pathname.slice(1)),
  };
}

let configs = 0;
/** Runs `list` with each given source set to its URL (only those), in an empty HOME. */
async function listWith(sources: Partial<Record<Source, string>>) {
  const args: string[] = [];
  const env: NodeJS.ProcessEnv = { HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
  if (sources.flag) args.push('--db', sources.flag);
  if (sources.API7_AUDIT_DATABASE_URL) env.API7_AUDIT_DATABASE_URL = sources.API7_AUDIT_DATABASE_URL;
  if (sources.DATABASE_URL) env.DATABASE_URL = sources.DATABASE_URL;
  if (sources.config) {
    const file = join(home, `config-${(configs += 1)}.yaml`);
    await writeFile(file, `database:\n  url: ${JSON.stringify(sources.config)}\n`);
    await chmod(file, 0o600);
    args.push('--config', file);
  }
  if (sources['PG*']) Object.assign(env, libpq(sources['PG*']));
  return spawnCli([...args, '--table', schema.table(), 'list', '--json'], { env, cwd: home });
}

const listedIds = (stdout: string) => (JSON.parse(stdout) as { id: string }[]).map((entry) => entry.id);

describe('naming the database', () => {
  it.each(ORDER)('%s alone lists the entries', async (source) => {
    const result = await listWith({ [source]: databaseUrl() });
    expect(result.code, result.stderr).toBe(0);
    expect(listedIds(result.stdout)).toEqual(ids);
  });

  it.each(ORDER.slice(0, -1))('%s beats every later source (all of them refused)', async (source) => {
    const later = ORDER.slice(ORDER.indexOf(source) + 1);
    const result = await listWith({ [source]: databaseUrl(), ...Object.fromEntries(later.map((s) => [s, REFUSED])) });
    expect(result.code, result.stderr).toBe(0);
    expect(listedIds(result.stdout)).toEqual(ids);
  });

  it.each(ORDER)('%s refused is the error, naming where the URL came from, with no fallback to a later source; password masked', async (source) => {
    const later = ORDER.slice(ORDER.indexOf(source) + 1);
    const result = await listWith({ [source]: REFUSED, ...Object.fromEntries(later.map((s) => [s, databaseUrl()])) });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines.filter((line) => line.startsWith('error:'))).toEqual([
      expect.stringMatching(new RegExp(`^error: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:1/nowhere \\(from ${LABELS[source]}.*\\): connect ECONNREFUSED`)),
    ]);
    // A password on the command line is visible in ps: the one warning allowed, and only for --db.
    expect(lines.filter((line) => !line.startsWith('error:'))).toEqual(
      source === 'flag' ? [expect.stringMatching(/^warning: a password in --db on the command line is visible to other users/)] : [],
    );
    expect(result.stderr).not.toContain(BAD_PASSWORD);
  });
});

describe('a config file given by --config, under flags', () => {
  async function configFile(body: string) {
    const file = join(home, `config-${(configs += 1)}.yaml`);
    await writeFile(file, body);
    await chmod(file, 0o600);
    return file;
  }
  const run = (args: string[]) => spawnCli(args, { env: { HOME: home, XDG_CONFIG_HOME: join(home, '.config') }, cwd: home });

  it('its table is used without --table, and --table beats it', async () => {
    const file = await configFile(`database:\n  url: ${JSON.stringify(databaseUrl())}\ntable: ${schema.table()}\n`);
    const fromFile = await run(['--config', file, 'list', '--json']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(listedIds(fromFile.stdout)).toEqual(ids);
    const elsewhere = await configFile(`database:\n  url: ${JSON.stringify(databaseUrl())}\ntable: ${schema.name}.no_such_table\n`);
    const flagged = await run(['--config', elsewhere, '--table', schema.table(), 'list', '--json']);
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(listedIds(flagged.stdout)).toEqual(ids);
  });

  it('retention: --retention-days beats --cp-config, which beats retention_days of the file, which beats 60', async () => {
    const file = await configFile(`database:\n  url: ${JSON.stringify(databaseUrl())}\ntable: ${schema.table()}\nretention_days: 11\n`);
    const cp = await configFile('deployment:\n  role: control_plane\naudit:\n  retention_days: 22\n');
    const bare = await configFile(`database:\n  url: ${JSON.stringify(databaseUrl())}\ntable: ${schema.table()}\n`);
    const cases: [string[], number, string][] = [
      [['--config', file, 'prune', '--dry-run', '--json', '--cp-config', cp, '--retention-days', '33'], 33, 'flag'],
      [['--config', file, 'prune', '--dry-run', '--json', '--cp-config', cp], 22, 'cp-config'],
      [['--config', file, 'prune', '--dry-run', '--json'], 11, 'config'],
      [['--config', bare, 'prune', '--dry-run', '--json'], 60, 'default'],
    ];
    for (const [args, days, source] of cases) {
      const result = await run(args);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ retention_days: days, retention_source: source, deleted: 0 });
    }
  });
});
