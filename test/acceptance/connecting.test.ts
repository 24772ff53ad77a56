import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

// How the binary finds its database and what it says when it cannot: through the built binary, as a user runs it.
let schema: TestSchema;
let home: string;
/** A port nothing listens on: refused at once. */
const DEAD = 'postgres://auditor@127.0.0.1:1/auditdb';
const PASSWORD_WARNING =
  'warning: a password in --db on the command line is visible to other users of this machine; prefer PGPASSWORD, ~/.pgpass or API7_AUDIT_DATABASE_URL';

beforeAll(async () => {
  schema = await createTestSchema('connecting');
  await createDefaultTable(schema);
  await insertRows(schema, [{ operator: 'alice', operation: 'create', resource_type: 'route', resource_id: 'r1' }]);
  // An empty home: no ~/.config/api7-audit/config.yaml of the machine's user takes part.
  home = await mkdtemp(join(tmpdir(), 'api7-connecting-'));
});
afterAll(async () => {
  await schema?.drop();
  await rm(home, { recursive: true, force: true });
});

const cli = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => spawnCli(argv, { env: { HOME: home, ...env }, cwd: home, timeoutMs: 20_000 });
const lines = (text: string) => text.split('\n').filter(Boolean);

describe('--table with a bad name (the early connection is ended)', () => {
  it.each([['list', ['list']], ['show', ['show', '1']]])('%s exits 2 promptly, not after the pool idles out', async (_name, argv) => {
    // The spawn is killed after 5 s (exit 128): the pool left open kept the process alive for 10 s.
    const result = await spawnCli(['--db', databaseUrl(), '--table', 'bad-name', ...argv], { env: { HOME: home }, timeoutMs: 5_000 });
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: invalid table 'bad-name'/)]);
    expect(result.code).toBe(2);
  });
});

describe('nothing configured', () => {
  it.each([
    ['no USER either', {}],
    // pg would take the login name as user and database and connect to database `root` without a word.
    ['USER=root', { USER: 'root' }],
    ['only PGPASSWORD', { PGPASSWORD: 'only-a-password-1' }],
  ])('%s: one line listing every way to name the database, exit 2', async (_name, env) => {
    const result = await cli(['list'], env);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toHaveLength(1);
    const line = lines(result.stderr)[0] ?? '';
    expect(line).toMatch(/^error: no database configured: /);
    for (const way of ['--db', 'API7_AUDIT_DATABASE_URL', 'DATABASE_URL', 'config file', '--config', 'API7_AUDIT_CONFIG', 'PGHOST', '--demo']) {
      expect(line).toContain(way);
    }
    expect(result.stdout).toBe('');
  });

  it('the PG* variables alone are enough (libpq habits): PGHOST, PGPORT, PGUSER, PGDATABASE', async () => {
    const url = new URL(databaseUrl());
    const result = await cli(['--table', schema.table(), 'list', '--json'], {
      PGHOST: url.hostname,
      PGPORT: url.port || '5432',
      PGUSER: decodeURIComponent(url.username),
      PGDATABASE: url.pathname.slice(1),
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toHaveLength(1);
  });
});

describe('a connection error names HOST:PORT/DB and where the URL came from', () => {
  it.each([
    ['--db', ['--db', DEAD], {}, '(from --db)'],
    ['API7_AUDIT_DATABASE_URL', [], { API7_AUDIT_DATABASE_URL: DEAD }, '(from API7_AUDIT_DATABASE_URL)'],
    ['DATABASE_URL', [], { DATABASE_URL: DEAD }, '(from DATABASE_URL)'],
    ['PG* variables', [], { PGHOST: '127.0.0.1', PGPORT: '1', PGUSER: 'auditor', PGDATABASE: 'auditdb' }, '(from PGHOST, PGPORT, PGUSER, PGDATABASE)'],
  ])('%s', async (_name, argv, env, from) => {
    const result = await cli([...argv, 'list'], env);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([`error: cannot connect to PostgreSQL at 127.0.0.1:1/auditdb ${from}: connect ECONNREFUSED 127.0.0.1:1`]);
  });

  it('a config file: names the file', async () => {
    const file = join(home, 'dead.yaml');
    await writeFile(file, `database:\n  url: postgres://auditor:File-Secret-9f2@127.0.0.1:1/auditdb\n`);
    const result = await cli(['--config', file, 'list']);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([`error: cannot connect to PostgreSQL at 127.0.0.1:1/auditdb (from config file '${file}'): connect ECONNREFUSED 127.0.0.1:1`]);
  });
});

describe('passwords never appear in messages', () => {
  // Each password is distinctive; no fragment of it of four characters or more may be printed.
  const fragments = (password: string) => Array.from({ length: password.length - 3 }, (_, i) => password.slice(i, i + 4));
  it.each([
    ['a / and a # (the URL does not parse)', 'postgres://auditor:Pa/ssw0rd#1@127.0.0.1:1/auditdb', 'Pa/ssw0rd#1', 2],
    ['an unencoded @', 'postgres://auditor:Qx@mple!Pw@127.0.0.1:1/auditdb', 'Qx@mple!Pw', 1],
    ['a ? in the password', 'postgres://auditor:Zy?wq=Kv7@127.0.0.1:1/auditdb', 'Zy?wq=Kv7', 2],
    ['?password= in the query', 'postgres://auditor@127.0.0.1:1/auditdb?password=Query-Pw-55x', 'Query-Pw-55x', 1],
    ['percent-encoded', 'postgres://auditor:En%2Fc0ded%23Pw@127.0.0.1:1/auditdb', 'En/c0ded#Pw', 1],
  ])('--db with %s: masked in the error; once it parses, a warning that argv shows it', async (_name, url, password, exit) => {
    const result = await cli(['--db', url, 'list']);
    expect(result.code).toBe(exit);
    // A URL that does not parse stops the run (exit 2) before the warning; one that does is tried (exit 1).
    if (exit === 2) expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: invalid database URL from --db 'postgres:\/\/auditor:\*\*\*@127\.0\.0\.1:1\/auditdb'/)]);
    else expect(lines(result.stderr)).toEqual([PASSWORD_WARNING, expect.stringMatching(/^error: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/auditdb \(from --db\)/)]);
    for (const fragment of [...fragments(password), ...fragments(encodeURIComponent(password))]) expect(result.stderr).not.toContain(fragment);
  });

  it('the same URL in an environment variable: masked, and no argv warning', async () => {
    const result = await cli(['list'], { API7_AUDIT_DATABASE_URL: 'postgres://auditor:Pa/ssw0rd#1@127.0.0.1:1/auditdb' });
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([`error: invalid database URL from API7_AUDIT_DATABASE_URL 'postgres://auditor:***@127.0.0.1:1/auditdb': its password holds '/', '?' or '#', which end a URL's host part; percent-encode them (%2F, %3F, %23) or set PGPASSWORD`]);
  });

  it('--db without a password: no warning', async () => {
    const result = await cli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('--connect-timeout is bounded', () => {
  it.each([
    ['3000000s', 'expected at most 1d'],
    ['86401s', 'expected at most 1d'],
    ['1e10', 'expected a duration such as'],
    ['Infinity', 'expected a duration such as'],
    ['10', 'a duration needs a unit, such as 10s'],
  ])('%s: exit 2 naming the value', async (value, why) => {
    const result = await cli(['--db', DEAD, '--connect-timeout', value, 'list']);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([expect.stringContaining(`error: invalid --connect-timeout '${value}': ${why}`)]);
  });

  it('database.connect_timeout in a config file: the same bound', async () => {
    const file = join(home, 'timeout.yaml');
    await writeFile(file, 'database:\n  connect_timeout: 3000000\n');
    const result = await cli(['--config', file, '--db', DEAD, 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`'database.connect_timeout' must be a positive number of seconds, at most 86400 (a day), got 3000000`);
  });
});
