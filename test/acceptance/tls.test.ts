import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

/**
 * sslmode the libpq way, through the built binary: a TLS PostgreSQL of this file's own (initdb in a temp dir, a CA
 * and certificates made with openssl, ssl=on, a free port) beside the shared server, which has no TLS. pg_hba.conf
 * lets role `tlsonly` in only over TLS and `plainonly` only without, so a success proves which way was used.
 */
const PG_BIN = '/usr/lib/postgresql/15/bin';
const available = existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl')) && existsSync('/usr/bin/openssl');
const run = promisify(execFile);
const TOKEN = 'tls-test-hec-token';

let dir: string;
let certs: string;
let home: string;
let port: number;
let plain: TestSchema;

const asRoot = process.getuid?.() === 0;

async function asServerUser(program: string, args: string[]): Promise<void> {
  const command = join(PG_BIN, program);
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', command, ...args], { timeout: 60_000 });
  else await run(command, args, { timeout: 60_000 });
}

const pgCtl = (...args: string[]) => asServerUser('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-w', '-t', '60', ...args]);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

const openssl = (...args: string[]) => run('openssl', args, { cwd: certs, timeout: 30_000 });

/** A CA, and a leaf certificate signed by it for `san` (key NAME.key, certificate NAME.crt). */
async function makeCa(name: string): Promise<void> {
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
}

async function makeLeaf(name: string, ca: string, subject: string, san?: string): Promise<void> {
  await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  const ext = join(certs, `${name}.ext`);
  await writeFile(ext, san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
  await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext);
}

/** Runs SQL on the TLS server over its Unix socket, as the superuser. */
async function admin(text: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

const cert = (name: string) => join(certs, name);
const tlsUrl = (user: string, params = '') => `postgres://${user}@127.0.0.1:${port}/postgres${params ? `?${params}` : ''}`;
const plainUrl = (params: string) => {
  const url = new URL(databaseUrl());
  for (const [key, value] of new URLSearchParams(params)) url.searchParams.set(key, value);
  return url.toString();
};
const plainAddress = () => {
  const url = new URL(databaseUrl());
  return `${url.hostname}:${url.port || 5432}${url.pathname}`;
};

beforeAll(async () => {
  plain = await createTestSchema('tls');
  await createDefaultTable(plain);
  await insertRows(plain, [{ operator: 'plain-server', operation: 'update', age: '1 hour' }, { operator: 'plain-server', operation: 'create', age: '2 hours' }]);
  if (!available) return;
  dir = await mkdtemp(join(tmpdir(), 'api7-tls-'));
  certs = join(dir, 'certs');
  home = join(dir, 'home');
  await mkdir(certs);
  await mkdir(home);
  await makeCa('ca');
  await makeCa('other-ca');
  await makeLeaf('server', 'ca', '/CN=127.0.0.1', 'IP:127.0.0.1');
  await makeLeaf('wrong-host', 'ca', '/CN=db.elsewhere.test', 'DNS:db.elsewhere.test');
  await makeLeaf('client', 'ca', '/CN=certuser');
  for (const name of ['server.key', 'wrong-host.key', 'client.key']) await chmod(cert(name), 0o600);
  if (asRoot) await run('chown', ['-R', 'postgres', dir]);
  port = await freePort();
  await asServerUser('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-N']);
  const data = join(dir, 'data');
  await writeFile(
    join(data, 'pg_hba.conf'),
    [
      'local all all trust',
      'hostssl all tlsonly 127.0.0.1/32 trust',
      'hostnossl all plainonly 127.0.0.1/32 trust',
      'hostssl all certuser 127.0.0.1/32 cert',
      'host all postgres 127.0.0.1/32 trust',
      '',
    ].join('\n'),
  );
  const conf = await readFile(join(data, 'postgresql.conf'), 'utf8');
  await writeFile(
    join(data, 'postgresql.conf'),
    `${conf}\nssl = on\nssl_cert_file = '${cert('server.crt')}'\nssl_key_file = '${cert('server.key')}'\nssl_ca_file = '${cert('ca.crt')}'\n`,
  );
  if (asRoot) await run('chown', ['-R', 'postgres', dir]);
  await pgCtl('-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start');
  const schema = await readFile(new URL('../../examples/schema.sql', import.meta.url), 'utf8');
  await admin(schema);
  await admin(`insert into audit_logs (created_at, operator, operation) values (now() - interval '1 hour', 'tls-server', 'update')`);
  await admin('create role tlsonly login superuser; create role plainonly login superuser; create role certuser login superuser');
}, 120_000);

afterAll(async () => {
  await plain?.drop();
  if (!available || !dir) return;
  await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** `list` through the binary, with HOME in an empty directory unless given (libpq reads ~/.postgresql/). */
async function list(db: string | undefined, env: NodeJS.ProcessEnv = {}, table?: string): Promise<CliResult> {
  const args = [...(db === undefined ? [] : ['--db', db]), ...(table ? ['--table', table] : []), 'list', '--output', 'ndjson'];
  const result = await spawnCli(args, { env: { HOME: home ?? tmpdir(), ...env } });
  // pg's own sslmode parser prints a nine-line warning: it must never see the parameters.
  expect(result.stderr).not.toContain('SECURITY WARNING');
  return result;
}

const listPlain = (db: string, env: NodeJS.ProcessEnv = {}) => list(db, env, plain.table());

function expectRows(result: CliResult, operator: string): void {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const rows = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { operator: string });
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.every((row) => row.operator === operator)).toBe(true);
}

function expectConnectFailure(result: CliResult, address: string, reason: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: cannot connect to PostgreSQL at [^\n]+\n$/);
  expect(result.stderr).toContain(`at ${address} (from --db): `);
  expect(result.stderr).toMatch(reason);
  expect(result.stderr).not.toContain('    at ');
}

describe('sslmode against a server without TLS (the shared one)', () => {
  it.each(['disable', 'allow', 'prefer'])('sslmode=%s connects without TLS', async (mode) => {
    expectRows(await listPlain(plainUrl(`sslmode=${mode}`)), 'plain-server');
  });

  it('no sslmode is libpq\'s prefer: connects', async () => {
    expectRows(await listPlain(databaseUrl()), 'plain-server');
  });

  it('prefer asks for TLS on its first socket and, told no, starts up on that same socket: one connection a command', async () => {
    const target = new URL(plainUrl(''));
    const firstBytes: Buffer[] = [];
    const proxy = createServer((socket) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      socket.once('data', (chunk: Buffer) => firstBytes.push(chunk));
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const via = new URL(plainUrl(''));
      via.host = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
      expectRows(await listPlain(via.toString()), 'plain-server');
      // Before: one socket for pg's SSLRequest, ended at the server's `N`, and a second for the plain start-up.
      expect(firstBytes).toHaveLength(1);
      expect((firstBytes[0] as Buffer).subarray(0, 8)).toEqual(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it.each(['require', 'verify-ca', 'verify-full'])('sslmode=%s refuses to go on without TLS, one line, exit 1', async (mode) => {
    const params = mode === 'require' ? `sslmode=${mode}` : `sslmode=${mode}&sslrootcert=${available ? cert('ca.crt') : '/dev/null'}`;
    expectConnectFailure(await listPlain(plainUrl(params)), plainAddress(), new RegExp(`does not accept SSL connections, which sslmode=${mode} in the URL requires`));
  });

  it('PGSSLMODE=require applies to the URL; the URL\'s sslmode beats it', async () => {
    expectConnectFailure(await listPlain(databaseUrl(), { PGSSLMODE: 'require' }), plainAddress(), /which PGSSLMODE=require requires/);
    expectRows(await listPlain(plainUrl('sslmode=disable'), { PGSSLMODE: 'require' }), 'plain-server');
  });

  it('an unknown sslmode, in the URL or PGSSLMODE, is exit 2 naming the value', async () => {
    const fromUrl = await listPlain(plainUrl('sslmode=bogus'));
    expect(fromUrl.code).toBe(2);
    expect(fromUrl.stderr).toMatch(/^error: invalid sslmode in the database URL 'bogus': expected one of disable, allow, prefer, require, verify-ca, verify-full\n$/);
    const fromEnv = await listPlain(databaseUrl(), { PGSSLMODE: 'no-verify' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/^error: invalid PGSSLMODE 'no-verify': expected one of [^\n]+\n$/);
  });

  it('pg\'s own ssl=true parameter is refused (exit 2), as libpq refuses it', async () => {
    const result = await listPlain(plainUrl('ssl=true'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: unsupported URL parameter 'ssl=true' in the database URL: use libpq's sslmode [^\n]+\n$/);
  });

  it('verify-ca without any root certificate is exit 2 saying where to put one; a missing named file too', async () => {
    const none = await listPlain(plainUrl('sslmode=verify-ca'));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: sslmode=verify-ca in the URL needs the CA that signed the server's certificate: set sslrootcert=FILE [^\n]+root\.crt[^\n]+\n$/);
    const missing = await listPlain(plainUrl('sslmode=require&sslrootcert=/nonexistent/ca.crt'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("error: cannot read sslrootcert in the URL '/nonexistent/ca.crt': no such file\n");
  });
});

describe('sslmode against hostile servers', () => {
  /** A TCP server on 127.0.0.1 that answers the SSLRequest with `reply` (or never, when undefined). */
  async function hostile(reply: Buffer | undefined, fn: (url: string, address: string) => Promise<void>): Promise<void> {
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', () => {
        if (reply) socket.end(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const hostPort = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      await fn(`postgres://u@${hostPort}/db`, `${hostPort}/db`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it('a server that says yes to TLS and then sends no TLS: one line, exit 1', async () => {
    await hostile(Buffer.from('SHTTP/1.1 400 Bad Request\r\n\r\n'), async (url, address) => {
      const result = await list(`${url}?sslmode=require`);
      expectConnectFailure(result, address, /the TLS handshake failed \(sslmode=require in the URL\): /);
    });
  });

  it('a server that never answers the SSLRequest: --connect-timeout ends it with one line, exit 1', async () => {
    await hostile(undefined, async (url, address) => {
      const result = await spawnCli(['--db', `${url}?sslmode=prefer`, '--connect-timeout', '1s', 'list'], { env: { HOME: home ?? tmpdir() } });
      expectConnectFailure(result, address, /connection timed out/);
    });
  });
});

describe.skipIf(!available)('sslmode against a TLS server of the test\'s own', () => {
  // [mode, role, connects]: tlsonly gets in only over TLS, plainonly only without.
  const matrix: [string, string, boolean][] = [
    ['disable', 'plainonly', true],
    ['disable', 'tlsonly', false],
    ['allow', 'plainonly', true],
    ['allow', 'tlsonly', true],
    ['prefer', 'tlsonly', true],
    ['prefer', 'plainonly', true],
    ['require', 'tlsonly', true],
    ['require', 'plainonly', false],
  ];
  it.each(matrix)('sslmode=%s as %s: connects %s', async (mode, role, connects) => {
    const result = await list(tlsUrl(role, `sslmode=${mode}`));
    if (connects) expectRows(result, 'tls-server');
    else expectConnectFailure(result, `127.0.0.1:${port}/postgres`, /no pg_hba\.conf entry for host "127\.0\.0\.1", user "\w+", database "postgres", (no encryption|SSL encryption)/);
  });

  it('no sslmode (prefer) gets a hostssl-only role in over TLS, and a hostnossl-only role in without', async () => {
    expectRows(await list(tlsUrl('tlsonly')), 'tls-server');
    expectRows(await list(tlsUrl('plainonly')), 'tls-server');
  });

  it('verify-ca and verify-full with the right CA connect; require with a root certificate checks it as verify-ca does', async () => {
    expectRows(await list(tlsUrl('tlsonly', `sslmode=verify-ca&sslrootcert=${cert('ca.crt')}`)), 'tls-server');
    expectRows(await list(tlsUrl('tlsonly', `sslmode=verify-full&sslrootcert=${cert('ca.crt')}`)), 'tls-server');
    expectRows(await list(tlsUrl('tlsonly', `sslmode=require&sslrootcert=${cert('ca.crt')}`)), 'tls-server');
    const wrong = await list(tlsUrl('tlsonly', `sslmode=require&sslrootcert=${cert('other-ca.crt')}`));
    expectConnectFailure(wrong, `127.0.0.1:${port}/postgres`, /the server's certificate is not trusted by sslrootcert '[^']*other-ca\.crt' \(sslmode=require in the URL\)/);
  });

  it('a wrong CA fails verify-ca with one clear line, exit 1, from the URL or PGSSLROOTCERT', async () => {
    const result = await list(tlsUrl('tlsonly', `sslmode=verify-ca&sslrootcert=${cert('other-ca.crt')}`));
    expectConnectFailure(result, `127.0.0.1:${port}/postgres`, /the server's certificate is not trusted by sslrootcert '[^']*other-ca\.crt' \(sslmode=verify-ca in the URL\): /);
    const fromEnv = await list(tlsUrl('tlsonly'), { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: cert('other-ca.crt') });
    expectConnectFailure(fromEnv, `127.0.0.1:${port}/postgres`, /not trusted by sslrootcert '[^']*other-ca\.crt' \(PGSSLMODE=verify-ca\)/);
  });

  it('~/.postgresql/root.crt is the default root: require then verifies against it', async () => {
    const withRoot = join(dir, 'home-with-root');
    await mkdir(join(withRoot, '.postgresql'), { recursive: true });
    await writeFile(join(withRoot, '.postgresql', 'root.crt'), await readFile(cert('other-ca.crt')));
    const result = await list(tlsUrl('tlsonly', 'sslmode=require'), { HOME: withRoot });
    expectConnectFailure(result, `127.0.0.1:${port}/postgres`, /not trusted by sslrootcert '[^']*home-with-root\/\.postgresql\/root\.crt'/);
    await writeFile(join(withRoot, '.postgresql', 'root.crt'), await readFile(cert('ca.crt')));
    expectRows(await list(tlsUrl('tlsonly', 'sslmode=verify-full'), { HOME: withRoot }), 'tls-server');
  });

  it('the libpq variables alone (PGHOST, PGPORT, PGUSER, PGDATABASE) with PGSSLMODE and PGSSLROOTCERT', async () => {
    const env = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'tlsonly', PGDATABASE: 'postgres', PGSSLMODE: 'verify-full', PGSSLROOTCERT: cert('ca.crt') };
    expectRows(await list(undefined, env), 'tls-server');
    const refused = await list(undefined, { ...env, PGUSER: 'plainonly', PGSSLMODE: 'require' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/postgres \(from PGHOST, PGPORT, PGUSER, PGDATABASE\): [^\n]*no pg_hba\.conf entry[^\n]*\n$/);
  });

  it('a client certificate from sslcert/sslkey or PGSSLCERT/PGSSLKEY passes "cert" authentication; without one, exit 1', async () => {
    const params = `sslmode=verify-full&sslrootcert=${cert('ca.crt')}`;
    expectRows(await list(tlsUrl('certuser', `${params}&sslcert=${cert('client.crt')}&sslkey=${cert('client.key')}`)), 'tls-server');
    expectRows(await list(tlsUrl('certuser', params), { PGSSLCERT: cert('client.crt'), PGSSLKEY: cert('client.key') }), 'tls-server');
    const without = await list(tlsUrl('certuser', params));
    expectConnectFailure(without, `127.0.0.1:${port}/postgres`, /certificate/);
  });

  it('pg_stat_ssl shows the session encrypted; pg_terminate_backend of it is one "lost the connection" line, exit 1', async () => {
    const holder = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table audit_logs in access exclusive mode');
      const running = list(tlsUrl('tlsonly', `sslmode=verify-full&sslrootcert=${cert('ca.crt')}`));
      let backend: { pid: number; ssl: boolean } | undefined;
      for (const deadline = Date.now() + 20_000; backend === undefined && Date.now() < deadline; await sleep(50)) {
        // From another session: the holder's transaction keeps one snapshot of the statistics.
        const rows = await admin(`select a.pid, s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid) where a.usename = 'tlsonly' and a.wait_event_type = 'Lock'`);
        backend = rows[0] as typeof backend;
      }
      expect(backend?.ssl).toBe(true);
      await admin(`select pg_terminate_backend(${Number(backend?.pid)})`);
      const result = await running;
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^error: lost the connection to PostgreSQL at 127\\.0\\.0\\.1:${port}/postgres during list: terminating connection due to administrator command\\n$`));
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });

  it('a certificate for another host name passes verify-ca and fails verify-full', async () => {
    await swapServerCertificate('wrong-host', 'db.elsewhere.test');
    try {
      expectRows(await list(tlsUrl('tlsonly', `sslmode=verify-ca&sslrootcert=${cert('ca.crt')}`)), 'tls-server');
      const full = await list(tlsUrl('tlsonly', `sslmode=verify-full&sslrootcert=${cert('ca.crt')}`));
      expectConnectFailure(full, `127.0.0.1:${port}/postgres`, /the server's certificate is for another host name \(sslmode=verify-full in the URL checks it; verify-ca would not\): [^\n]*127\.0\.0\.1/);
    } finally {
      await swapServerCertificate('server', '127.0.0.1');
    }
  });
});

/** Points the server at another certificate, reloads, and waits (at most 10 s) until new connections present it. */
async function swapServerCertificate(name: string, commonName: string): Promise<void> {
  await admin(`alter system set ssl_cert_file = '${cert(`${name}.crt`)}'`);
  await admin(`alter system set ssl_key_file = '${cert(`${name}.key`)}'`);
  await admin('select pg_reload_conf()');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    let seen = '';
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'tlsonly',
      database: 'postgres',
      // checkServerIdentity runs only once the chain verified.
      ssl: { ca: await readFile(cert('ca.crt'), 'utf8'), checkServerIdentity: (_host, peer) => ((seen = String(peer.subject.CN)), undefined) },
    });
    await client.connect().then(() => client.end(), () => undefined);
    if (seen === commonName) return;
    await sleep(50);
  }
  throw new Error(`the server did not switch to the ${name} certificate`);
}

describe.skipIf(!available)('HTTPS destinations: --ca-file and --insecure', () => {
  let server: Server;
  let received: number;
  let hecUrl: string;

  beforeAll(async () => {
    server = createHttpsServer({ key: await readFile(cert('server.key')), cert: await readFile(cert('server.crt')) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.headers.authorization !== `Splunk ${TOKEN}`) {
          res.writeHead(403).end('{"text":"Invalid token","code":4}');
          return;
        }
        received += Buffer.concat(chunks).toString('utf8').split('}{').length;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    hecUrl = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const exportTo = async (...flags: string[]) => {
    received = 0;
    const result = await spawnCli(['--db', databaseUrl(), '--table', plain.table(), 'export', '--hec-url', hecUrl, '--max-retry-time', '0s', ...flags], {
      env: { API7_AUDIT_HEC_TOKEN: TOKEN, HOME: home },
    });
    expect(result.stderr).not.toContain('SECURITY WARNING');
    return result;
  };

  it('with --ca-file naming the CA that signed the certificate, the entries arrive', async () => {
    const result = await exportTo('--ca-file', cert('ca.crt'));
    expect(result.stderr).not.toContain('warning');
    expect(result.code, result.stderr).toBe(0);
    expect(received).toBe(2);
  });

  it('without --ca-file: one line naming the untrusted certificate and --ca-file, exit 1, nothing sent', async () => {
    const result = await exportTo();
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/TLS certificate not trusted \([A-Z_]+\): pass --ca-file FILE with the CA that signed it/);
    expect(result.stderr).not.toContain(TOKEN);
    expect(received).toBe(0);
  });

  it('a --ca-file of another CA is refused the same way; an unreadable or non-PEM one is exit 2', async () => {
    const other = await exportTo('--ca-file', cert('other-ca.crt'));
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/TLS certificate not trusted/);
    expect(received).toBe(0);
    const missing = await exportTo('--ca-file', '/nonexistent/ca.pem');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("error: cannot read --ca-file '/nonexistent/ca.pem': no such file\n");
    const notPem = await exportTo('--ca-file', join(certs, 'server.ext'));
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toMatch(/^error: --ca-file '[^']+server\.ext' holds no PEM certificate/);
  });

  it('--insecure sends, and warns on stderr', async () => {
    const result = await exportTo('--insecure');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^warning: --insecure: the destination's TLS certificate is not checked[^\n]*$/m);
    expect(received).toBe(2);
    const both = await exportTo('--insecure', '--ca-file', cert('ca.crt'));
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('error: give --ca-file or --insecure, not both\n');
  });
});
