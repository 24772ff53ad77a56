import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { varietyRows } from '../support/fixtures.js';

let schema: TestSchema;
const db = () => ['--db', databaseUrl(), '--table', schema.table()];

beforeAll(async () => {
  schema = await createTestSchema('e2e');
  await createDefaultTable(schema);
  await insertRows(schema, varietyRows(60, 7));
});
afterAll(() => schema.drop());

describe('the built binary', () => {
  it('prints its version and help with examples', async () => {
    const version = await spawnCli(['--version']);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    for (const command of ['list', 'show']) {
      const help = await spawnCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Examples:');
      expect(help.stdout).toContain(`$ api7-audit ${command}`);
    }
  });

  it('lists as JSON on stdout with nothing else in the stream', async () => {
    const result = await spawnCli([...db(), 'list', '--limit', '5', '--json']);
    expect(result.code).toBe(0);
    const entries = JSON.parse(result.stdout) as AuditEntry[];
    expect(entries).toHaveLength(5);
    expect(result.stderr).toMatch(/^More entries match\. Next page: --cursor \S+\n$/);
  });

  it('prints a table without colour codes when stdout is not a terminal, and a diff for show', async () => {
    const table = await spawnCli([...db(), 'list', '--limit', '3'], { env: { FORCE_COLOR: undefined } });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION/);
    expect(table.stdout).not.toContain('\u001b[');
    const id = /^\s*(\d+)\s/m.exec(table.stdout.split('\n')[1] ?? '')?.[1];
    const show = await spawnCli([...db(), 'show', id ?? '']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('--- before');
    expect(show.stdout).toContain(`ID:`);
  });

  it.each([
    ['--since 7x', ['list', '--since', '7x'], `'7x'`],
    ['--ip 999.1.1.1', ['list', '--ip', '999.1.1.1'], `'999.1.1.1'`],
    ['--limit -5', ['list', '--limit', '-5'], `'-5'`],
    ['--limit 0', ['list', '--limit', '0'], `'0'`],
    ['an unknown flag', ['list', '--frobnicate'], `'--frobnicate'`],
    ['--output xml', ['list', '--output', 'xml'], `'xml'`],
    ['--resource :x', ['list', '--resource', ':x'], `':x'`],
    ['a non-numeric id', ['show', 'abc'], `'abc'`],
    ['an unknown command', ['frob'], `'frob'`],
  ])('bad input (%s) prints one line naming the value and exits 2', async (_name, args, named) => {
    const result = await spawnCli([...db(), ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toContain(named);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(lines.filter((line) => line.startsWith('error:'))).toHaveLength(1);
  });

  it('an unknown id exits 1 with one line', async () => {
    const result = await spawnCli([...db(), 'show', '987654321']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: no audit entry with id '987654321' in ${schema.table()}\n`);
  });
});

describe('connection failures', () => {
  let silent: Server;
  let silentPort = 0;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers: only the connect timeout can end the wait.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('a refused connection exits 1 with the password masked', async () => {
    const result = await spawnCli(['--db', 'postgres://auditor:Sup3r-S3cret@127.0.0.1:1/audit', 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot connect to PostgreSQL at 127.0.0.1:1/audit (from --db)');
    expect(result.stderr).not.toContain('Sup3r-S3cret');
    // The error, after the warning that a password on the command line is visible to other users.
    expect(result.stderr.trim().split('\n')).toHaveLength(2);
  });

  it.each(['list', 'show'])('%s: a refused connection made while the command loads is reported once, exit 1', async (command) => {
    const result = await spawnCli(['--db', 'postgres://auditor:Sup3r-S3cret@127.0.0.1:1/audit', command, ...(command === 'show' ? ['1'] : [])]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`warning: a password in --db on the command line is visible to other users of this machine; prefer PGPASSWORD, ~/.pgpass or API7_AUDIT_DATABASE_URL\nerror: cannot connect to PostgreSQL at 127.0.0.1:1/audit (from --db): connect ECONNREFUSED 127.0.0.1:1\n`);
  });

  it('a server that never answers is cut off by --connect-timeout, after one attempt', async () => {
    const started = Date.now();
    const before = sockets.length;
    const result = await spawnCli(['--connect-timeout', '1s', 'list'], {
      env: { PGHOST: '127.0.0.1', PGPORT: String(silentPort), PGUSER: 'u', PGPASSWORD: 'libpq-Secret-1', PGDATABASE: 'd' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/d \(from PGHOST, PGPORT, PGUSER, PGDATABASE\): connection timed out/);
    expect(result.stderr).not.toContain('libpq-Secret-1');
    expect(Date.now() - started).toBeLessThan(15_000);
    // The connection list starts while its modules load is the one that timed out: no second try, no second wait.
    expect(sockets.length - before).toBe(1);
  });

  it('--debug adds a stack trace', async () => {
    const result = await spawnCli(['--db', 'postgres://u@127.0.0.1:1/x', '--debug', 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});
