import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';
import { ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { interruptAtOnce, ndjsonIds, sleep, waitFor } from '../support/wait.js';
import { fatalMessage } from './attack-connect-server.js';

/**
 * Connecting, attacked through the binary: timeouts from the URL and PGCONNECT_TIMEOUT, servers that are not
 * PostgreSQL, a name that does not resolve, IPv6, a unix socket, several hosts, a postmaster frozen with SIGSTOP.
 */
const sockets = new Set<Socket>();
const servers: Server[] = [];

/** A TCP server on `host` whose every connection is handed to `onConnection`; returns its port. */
async function listen(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<number> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as { port: number }).port;
}

let schema: TestSchema;
let silentPort: number;
let bannerPort: number;
let httpPort: number;
let own: OwnPostgres | undefined;
const http = createHttpServer((_request, response) => response.end('hello'));

beforeAll(async () => {
  schema = await createTestSchema('attack_connect');
  await createDefaultTable(schema);
  await insertRows(schema, [{ operator: 'alice', operation: 'create', resource_type: 'route', resource_id: 'r1' }]);
  // Accepts and never answers, as behind a firewall that black-holes the packets after the handshake.
  silentPort = await listen(() => undefined);
  // Greets as an SSH server does: its 'S' reads as "TLS accepted" to an SSLRequest, then the handshake is garbage.
  bannerPort = await listen((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpPort = (http.address() as { port: number }).port;
  if (ownPostgresAvailable) own = await startOwnPostgres('attack-connect');
}, 120_000);
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([...servers, http].map((server) => new Promise((resolve) => server.close(resolve))));
  await own?.stop();
  await schema?.drop();
});

const BARE = { HOME: '/nonexistent' };
const cli = (argv: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<CliResult> => spawnCli(argv, { env: { ...BARE, ...env }, timeoutMs });
const lines = (text: string) => text.split('\n').filter(Boolean);
const at = (port: number, query = '') => `postgres://auditor@127.0.0.1:${port}/auditdb${query}`;

/** Runs `argv`; fails unless it ends (not killed) within `boundMs`; returns its result. */
async function endsWithin(boundMs: number, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const started = Date.now();
  const result = await cli(argv, env, boundMs + 10_000);
  expect(Date.now() - started, `${argv.join(' ')} does not hang`).toBeLessThan(boundMs);
  return result;
}

describe('the connect timeout: libpq\'s settings honoured, the message says what did not answer and what to check', () => {
  const check = 'check that the server is running and that this host and port are right and reachable from here (a firewall may drop the packets), or raise --connect-timeout';
  it.each([
    ['connect_timeout=2 in the URL', ['--db', '', 'list'], {}, '2s'],
    ['PGCONNECT_TIMEOUT=2', ['--db', '', 'list'], { PGCONNECT_TIMEOUT: '2' }, '2s'],
    ['--connect-timeout 3s over connect_timeout=2 in the URL', ['--db', '', '--connect-timeout', '3s', 'list'], {}, '3s'],
    ['connect_timeout=1: libpq\'s least, 2', ['--db', '', 'list'], {}, '2s'],
    ['follow\'s first connection', ['--db', '', 'follow'], {}, '2s'],
  ])('%s', async (name, argv, env, seconds) => {
    const query = name.includes('connect_timeout=2') || name.includes('follow') ? '?connect_timeout=2' : name.includes('connect_timeout=1') ? '?connect_timeout=1' : '';
    const url = at(silentPort, query);
    // The default is 10 s: ending well before proves the setting was used, the message says which one.
    const result = await endsWithin(9_000, argv.map((arg) => (arg === '' ? url : arg)), env);
    expect(lines(result.stderr)).toEqual([`error: cannot connect to PostgreSQL at 127.0.0.1:${silentPort}/auditdb (from --db): connection timed out (no answer within ${seconds}); ${check}`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
  });

  it.each([
    ['the URL', 'connect_timeout in the database URL', { query: '?connect_timeout=2s', env: {} }, '2s'],
    ['PGCONNECT_TIMEOUT', 'PGCONNECT_TIMEOUT', { query: '', env: { PGCONNECT_TIMEOUT: 'ten' } }, 'ten'],
    ['the URL, too long', 'connect_timeout in the database URL', { query: '?connect_timeout=86401', env: {} }, '86401'],
  ])('a bad value in %s: exit 2 naming it', async (_name, what, { query, env }, value) => {
    const result = await cli(['--db', at(silentPort, query), 'list'], env);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(new RegExp(`^error: invalid ${what} '${value}': expected whole seconds`))]);
    expect(result.code).toBe(2);
  });
});

describe('servers that are not PostgreSQL: one line, exit 1, no hang', () => {
  it.each([['list', ['list']], ['follow', ['follow']], ['export', ['export', '--out', '/dev/null']]])('an HTTP server on the port (%s)', async (_name, argv) => {
    const result = await endsWithin(15_000, ['--db', at(httpPort), ...argv]);
    expect(lines(result.stderr)).toEqual([
      `error: cannot connect to PostgreSQL at 127.0.0.1:${httpPort}/auditdb (from --db): the server closed the connection without answering as PostgreSQL does: is 127.0.0.1:${httpPort} a PostgreSQL server, not a web server, a proxy or another service?`,
    ]);
    expect(result.code).toBe(1);
  });

  it('a server that greets with garbage and stays open (TLS tried first, as sslmode=prefer does): ends at the timeout', async () => {
    // pg left the TCP socket of the failed TLS attempt open: the process waited for the server to hang up (forever).
    const result = await endsWithin(12_000, ['--db', at(bannerPort, '?connect_timeout=2'), 'list']);
    expect(lines(result.stderr)).toEqual([
      `error: cannot connect to PostgreSQL at 127.0.0.1:${bannerPort}/auditdb (from --db): the server answered with bytes that are not PostgreSQL's protocol (no complete reply within 2s): is 127.0.0.1:${bannerPort} a PostgreSQL server, not a web server, a proxy or another service?`,
    ]);
    expect(result.code).toBe(1);
  });

  it('the same server without TLS (sslmode=disable): not "no answer", since it did answer', async () => {
    const result = await endsWithin(12_000, ['--db', at(bannerPort, '?connect_timeout=2&sslmode=disable'), 'list']);
    expect(lines(result.stderr)).toEqual([expect.stringContaining(`: the server answered with bytes that are not PostgreSQL's protocol (no complete reply within 2s): is 127.0.0.1:${bannerPort} a PostgreSQL server`)]);
    expect(result.code).toBe(1);
  });
});

describe('a server that is there but refuses: one line naming it and its words, exit 1', () => {
  it.each([
    ['57P03', 'the database system is starting up'],
    ['57P03', 'the database system is shutting down'],
    ['53300', 'sorry, too many clients already'],
  ])('FATAL %s %s', async (code, text) => {
    // Declines TLS ('N') as a server without it does, then answers the start-up message with the FATAL.
    const port = await listen((socket) => socket.on('data', (data) => (data.readInt32BE(4) === 80877103 ? socket.write('N') : socket.end(fatalMessage(code, text)))));
    const result = await endsWithin(15_000, ['--db', at(port), 'list']);
    expect(lines(result.stderr)).toEqual([`error: cannot connect to PostgreSQL at 127.0.0.1:${port}/auditdb (from --db): ${text}`]);
    expect(result.code).toBe(1);
  });
});

describe('names and addresses', () => {
  it('a host name that does not resolve: one line naming it, exit 1', async () => {
    const result = await endsWithin(20_000, ['--db', 'postgres://auditor@no-such-host.invalid:5432/auditdb', 'list']);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: cannot connect to PostgreSQL at no-such-host\.invalid:5432\/auditdb \(from --db\): .*no-such-host\.invalid/)]);
    expect(result.code).toBe(1);
  });

  it.each([
    ['host1:port,host2:port', 'postgres://auditor@127.0.0.1:1,127.0.0.1:5432/auditdb', {}],
    ['host1,host2', 'postgres://auditor:pw,with,commas@h1,h2/auditdb', {}],
    ['?host=a,b', 'postgres://auditor@/auditdb?host=a,b', {}],
  ])('several hosts in the URL (%s): exit 2, one line, before any connection', async (_name, url) => {
    const result = await cli(['--db', url, 'list']);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: invalid database URL from --db '.+': it names several hosts, which pg \(the driver\) does not support: name one host, the primary's$/)]);
    expect(result.stderr).not.toContain('with,commas');
    expect(result.code).toBe(2);
  });

  it('several hosts in PGHOST: exit 2', async () => {
    const result = await cli(['list'], { PGHOST: '127.0.0.1,127.0.0.2', PGUSER: 'auditor' });
    expect(lines(result.stderr)).toEqual([`error: invalid PGHOST '127.0.0.1,127.0.0.2': it names several hosts, which pg (the driver) does not support: name one host, the primary's`]);
    expect(result.code).toBe(2);
  });

  it.skipIf(isEmbedded())('IPv6: [::1] in the URL reaches the server (through a proxy on ::1), and a dead [::1] port is named as such', async (context) => {
    const target = new URL(databaseUrl());
    let port: number;
    try {
      port = await listen((socket) => {
        const upstream = connectTcp(Number(target.port || 5432), '127.0.0.1');
        sockets.add(upstream);
        upstream.on('error', () => socket.destroy());
        socket.pipe(upstream).pipe(socket);
        socket.on('close', () => upstream.destroy());
      }, '::1');
    } catch {
      context.skip(); // no IPv6 loopback on this machine
      return;
    }
    const url = new URL(databaseUrl());
    url.host = `[::1]:${port}`;
    const result = await cli(['--db', url.toString(), '--table', schema.table(), 'list', '-o', 'json']);
    expect(result.stderr).toBe('');
    expect((JSON.parse(result.stdout) as { operator: string }[]).map((entry) => entry.operator)).toEqual(['alice']);
    const dead = await cli(['--db', `postgres://auditor@[::1]:1/auditdb`, 'list']);
    expect(lines(dead.stderr)).toEqual(['error: cannot connect to PostgreSQL at [::1]:1/auditdb (from --db): connect ECONNREFUSED ::1:1']);
    expect(dead.code).toBe(1);
  });
});

describe.skipIf(!ownPostgresAvailable)('a server of this file\'s own', () => {
  it('a unix socket: ?host=/dir in the URL and PGHOST=/dir', async () => {
    const server = own as OwnPostgres;
    await server.query(`insert into audit_logs (operator) values ('over-the-socket')`);
    for (const url of [`postgres:///postgres?host=${server.dir}&port=${server.port}&user=postgres`, `postgres://postgres@${encodeURIComponent(server.dir)}:${server.port}/postgres`]) {
      const viaUrl = await cli(['--db', url, 'list', '-o', 'json']);
      expect(viaUrl.stderr, url).toBe('');
      expect(viaUrl.stdout, url).toContain('over-the-socket');
    }
    // libpq takes user@/db?host=/dir; the URL parser does not, so the message shows the two forms that work.
    const userNoHost = await cli(['--db', `postgres://postgres@/postgres?host=${server.dir}`, 'list']);
    expect(lines(userNoHost.stderr)).toEqual([expect.stringMatching(/: no host after the user; for a unix socket write postgres:\/\/USER@%2Frun%2Fpostgresql\/DB or postgres:\/\/\/DB\?host=\/run\/postgresql&user=USER$/)]);
    expect(userNoHost.code).toBe(2);
    const viaEnv = await cli(['list', '-o', 'json'], { PGHOST: server.dir, PGPORT: String(server.port), PGUSER: 'postgres', PGDATABASE: 'postgres' });
    expect(viaEnv.stderr).toBe('');
    expect(viaEnv.stdout).toContain('over-the-socket');
    const missing = await cli(['list'], { PGHOST: join(server.dir, 'nowhere'), PGPORT: String(server.port), PGUSER: 'postgres', PGDATABASE: 'postgres' });
    expect(lines(missing.stderr)).toEqual([expect.stringMatching(/^error: cannot connect to PostgreSQL at .*nowhere:\d+\/postgres \(from PGHOST, PGPORT, PGUSER, PGDATABASE\): no server socket there \(connect ENOENT .+\): check that the server is running and that the directory is one of its unix_socket_directories$/)]);
    expect(missing.code).toBe(1);
  });

  it('follow over a unix socket goes on through a fast restart (the socket file is gone meanwhile: ENOENT is retried)', async () => {
    const server = own as OwnPostgres;
    const url = `postgres://postgres@${encodeURIComponent(server.dir)}:${server.port}/postgres`;
    const running = startCli(['--db', url, 'follow', '--since', '1h', '--output', 'ndjson', '--interval', '100ms', '--settle', '0'], { timeoutMs: 90_000 });
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    await server.restart('fast');
    const [row] = await server.query<{ id: string }>(`insert into audit_logs (operator) values ('after-restart') returning id::text`);
    await waitFor(() => ndjsonIds(running.stdout()).includes(row?.id as string) || running.exited(), 60_000, 'the entry after the restart');
    const result = await interruptAtOnce(running);
    expect(result.stderr).toContain('reconnected to PostgreSQL; continuing after');
    expect(result.stderr).not.toMatch(/^error:/m);
  }, 90_000);

  it('follow: the postmaster frozen (SIGSTOP) and its backend gone, Ctrl-C while reconnecting exits 0 at once', async () => {
    const server = own as OwnPostgres;
    await server.query(`insert into audit_logs (operator) values ('before-freeze')`);
    const running = startCli(['--db', server.url, 'follow', '--since', '1h', '--output', 'ndjson', '--interval', '100ms', '--settle', '0', '--connect-timeout', '600s'], { timeoutMs: 60_000 });
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    const [backend] = await server.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = 'api7-audit'`);
    const postmaster = Number((await readFile(join(server.dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(postmaster, 'SIGSTOP');
    try {
      // The backend ends itself (SIGTERM is pg_terminate_backend); the frozen postmaster accepts no new session.
      process.kill(backend?.pid as number, 'SIGTERM');
      await waitFor(() => /reconnecting in/.test(running.stderr()) || running.exited(), 20_000, 'follow to retry');
      await sleep(1500);
      const result = await interruptAtOnce(running);
      expect(result.stderr).toMatch(/warning: lost the connection to PostgreSQL \(terminating connection due to administrator command\); reconnecting in/);
      expect(result.stderr).toMatch(/Stopped\. Continue with: --cursor \S+\n$/);
    } finally {
      process.kill(postmaster, 'SIGCONT');
    }
  }, 60_000);
});
