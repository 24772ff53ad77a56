import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';
import { FakeHec, splitConcatenatedJson } from '../support/fake-hec.js';
import type { ExportFields } from '../../src/domain.js';
import { FakeServer, type Protocol } from '../support/fake-server.js';

// This session's export changes attacked through the built binary: HEC writes each event's head straight from the
// entry's text (9fc08b4, 5ea3955), undici comes from its own modules (228818a), export connects while its module
// loads (1c0f3ae). Each event's head must be, byte for byte, the one built from PostgreSQL's own values: the time
// from its epoch, each plain field as JSON text (the export's U+2028, U+2029 and U+0085 escaped), nulls left out.

const TOKEN = 'hec-T0ken-head';
const HOST = 'hôst-漢字-😀';
const SOURCE = 'src/é "quoted" \\';
const HOSTILE = [
  'a"b', 'back\\slash\\\\', 'ls\u2028ps\u2029nel\u0085', 'ctl\u0001\u001f\t\n\r', 'CJK 漢字テスト', 'emoji 😀👍🏽', 'é/ü', '</script>',
  '\\u0000', 'x'.repeat(10_240), '', ' ', 'null', '"', '\\', 'z\\"',
];
/** Days 29-31, Feb 29, before 1970, years below 100, 1 BC and 44 BC (each read by a different path). */
const TIMES = [
  '2024-02-29 12:00:00.123456+00', '2023-01-29 00:00:00+00', '2023-01-30 23:59:59.999999+00', '2023-01-31 23:59:59.9995+00',
  '2023-04-30 01:02:03.000001+00', '2000-02-29 00:00:00+00', '1900-02-28 00:00:00+00', '1969-12-31 23:59:59.999+00',
  '1960-06-30 12:00:00.5+00', '1970-01-01 00:00:00+00', '0100-03-01 00:00:00+00', '0099-12-31 00:00:00+00',
  '0001-01-01 00:00:00+00', '0001-12-31 23:59:59.999+00 BC', '0044-03-15 12:00:00+00 BC', '2026-03-31 08:00:00+00',
];

let schema: TestSchema;
let dir: string;
const closers: (() => Promise<void>)[] = [];

function seedRows(): SeedRow[] {
  const rows: SeedRow[] = [];
  for (const value of HOSTILE) {
    rows.push({ operator: value, operation: value, resource_type: value, resource_id: value, resource_name: value, source: value, source_ip: '::1', after: { value } });
  }
  // Every combination of null plain fields (the four copied as one piece when none is null, and each alone).
  for (let mask = 0; mask < 128; mask += 1) {
    const field = (bit: number, value: string) => ((mask >> bit) & 1 ? null : value);
    rows.push({
      operator: field(0, 'alice'), operation: field(1, 'UPDATE'), resource_type: field(2, 'route'), resource_id: field(3, 'r-1'),
      resource_name: field(4, 'name'), source_ip: field(5, '10.0.0.1'), source: field(6, 'dashboard'), before: mask & 1 ? null : { a: 1 }, after: { b: 2 },
    });
  }
  // Masked (secrets in the states) and reduced (a state the destination refuses whole).
  rows.push({ operator: 'bob', operation: 'UPDATE', resource_type: 'consumer', resource_id: 'c1', source_ip: '2001:db8::1', before: { plugins: { 'key-auth': { key: 'SEKRET-abc123' } } }, after: { password: 'hunter2' } });
  rows.push({ operator: 'big', operation: 'UPDATE', resource_type: 'route', resource_id: 'big', after: { blob: 'y'.repeat(300_000) } });
  return rows.map((row, index) => ({ ...row, at: TIMES[index % TIMES.length] }));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-attack-export-head-'));
  schema = await createTestSchema('attack_export_head');
  // Without indexes: the same columns as examples/schema.sql, which is what the export reads.
  await schema.query(`create table ${schema.table()} (id bigserial primary key, created_at timestamptz not null, operator text, operation text,
    resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
  await insertRows(schema, seedRows());
  // The same entries under text ids with a quote, a backslash, CJK and U+2028: an id with an escape takes the parsed path.
  await schema.query(`create table ${schema.table('text_ids')} as select case id % 5 when 0 then 'id-' || id when 1 then 'q"' || id
      when 2 then 'b\\' || id when 3 then '漢' || id else U&'ls\\2028' || id end as id, created_at, operator, operation, resource_type,
      resource_id, resource_name, source_ip, source, before, after from ${schema.table()}`);
  await schema.query(`alter table ${schema.table('text_ids')} add primary key (id)`);
});
afterAll(async () => {
  await Promise.all([schema.drop(), ...closers.map((close) => close()), rm(dir, { recursive: true, force: true })]);
});

/** A Splunk HEC that keeps each request's body as it came (after gzip). */
async function startHec(options: { maxBodyBytes?: number } = {}): Promise<{ server: FakeServer; hec: FakeHec; bodies: Buffer[] }> {
  const hec = new FakeHec({ token: TOKEN });
  const bodies: Buffer[] = [];
  const recording: Protocol = {
    handle(request) {
      const reply = hec.handle(request);
      if (reply.status === 200) bodies.push(request.body);
      return reply;
    },
    failure: (status) => hec.failure(status),
    discardReply: () => hec.discardReply(),
  };
  const server = await new FakeServer(recording, options).start();
  closers.push(() => server.close());
  return { server, hec, bodies };
}

const exportTo = (url: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, table = 'audit_logs') =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(table), 'export', '--json', '--hec-url', url, ...args], {
    env: { API7_AUDIT_HEC_TOKEN: TOKEN, ...env },
  });

/** JSON text as the export writes a plain field: JSON.stringify's, with the three line separators escaped. */
const token = (value: string): string =>
  JSON.stringify(value).replace(/[\u2028\u2029\u0085]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

interface TruthRow extends ExportFields {
  id: string;
  time: string;
}

/** Each entry's head from PostgreSQL: epoch seconds with three decimals (the microseconds cut), the plain fields. */
async function expectedHeads(metadata: string, table: string): Promise<Map<string, string>> {
  const rows = (await schema.query<TruthRow>(`select id::text, (floor(extract(epoch from created_at) * 1000) / 1000)::numeric(20, 3)::text as time,
      operator, operation, resource_type, resource_id, host(source_ip) as source_ip, source from ${schema.table(table)}`)).rows;
  return new Map(rows.map((row) => {
    // audit_id is the id decoded and quoted again (as before 9fc08b4): a line separator in it stays raw, valid JSON.
    let fields = `"audit_id":${JSON.stringify(row.id)}`;
    for (const [key, label] of [['operator', 'operator'], ['operation', 'operation'], ['resource_type', 'resource_type'], ['resource_id', 'resource_id'], ['source_ip', 'source_ip'], ['source', 'audit_source']] as const) {
      const value = row[key];
      if (value !== null) fields += `,"${label}":${token(value)}`;
    }
    return [row.id, `{"time":${row.time}${metadata},"fields":{${fields}},"event":`];
  }));
}

/** Each event's text before its entry, by the entry's id, from the raw bodies. */
function receivedHeads(bodies: Buffer[]): Map<string, string> {
  const heads = new Map<string, string>();
  for (const body of bodies) {
    for (const event of splitConcatenatedJson(body.toString('utf8')) ?? []) {
      const start = event.indexOf(',"event":') + ',"event":'.length;
      const id = (JSON.parse(event.slice(start, -1)) as { id: string }).id;
      expect(heads.has(id), `entry ${id} sent twice`).toBe(false);
      heads.set(id, event.slice(0, start));
    }
  }
  return heads;
}

describe('HEC event heads', () => {
  it.each(['audit_logs', 'text_ids'])('are the heads PostgreSQL\'s values give, byte for byte, for hostile fields, every null combination, odd days and BC times (%s)', async (table) => {
    // 150 KB: the 300 KB state is refused whole and goes reduced, its head written from the reduced text.
    const { server, bodies } = await startHec({ maxBodyBytes: 150_000 });
    const result = await exportTo(server.url, ['--batch-size', '7', '--hec-host', HOST, '--hec-source', SOURCE, '--hec-index', 'audit'], {}, table);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { exported: number; reduced: number };
    const expected = await expectedHeads(`,"host":${JSON.stringify(HOST)},"source":${JSON.stringify(SOURCE)},"sourcetype":"api7:audit","index":"audit"`, table);
    expect(summary).toMatchObject({ exported: expected.size, reduced: 1 });
    const received = receivedHeads(bodies);
    expect([...received.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, head] of expected) expect(received.get(id), `entry ${id}`).toBe(head);
    // The secret stayed out of the bodies, the reduced entry's marker went in.
    const all = Buffer.concat(bodies).toString('utf8');
    expect(all).not.toContain('SEKRET-abc123');
    expect(all).not.toContain('hunter2');
    expect(all).toContain('"$api7_audit":"omitted"');
  });
});

/** An HTTP proxy that tunnels CONNECT requests, as corporate proxies do; counts the tunnels it opened. */
async function startConnectProxy(): Promise<{ url: string; tunnels: () => number }> {
  let tunnels = 0;
  const server: Server = createServer((_, res) => res.writeHead(502).end());
  server.on('connect', (req, client: Socket, head: Buffer) => {
    tunnels += 1;
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels: () => tunnels };
}

describe('HEC through a proxy (undici from its own modules)', () => {
  it('sends every entry through HTTP_PROXY, and past it for a NO_PROXY host', async () => {
    const proxy = await startConnectProxy();
    const { server, hec } = await startHec();
    const url = server.url;
    const through = await exportTo(url, ['--max-retry-time', '5s'], { HTTP_PROXY: proxy.url });
    expect(through.code, through.stderr).toBe(0);
    expect(proxy.tunnels()).toBeGreaterThan(0);
    const exported = (JSON.parse(through.stdout) as { exported: number }).exported;
    expect(hec.ids.unique).toBe(exported);

    const tunnelsBefore = proxy.tunnels();
    const past = await exportTo(url, ['--max-retry-time', '5s'], { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    expect(past.code, past.stderr).toBe(0);
    expect(proxy.tunnels()).toBe(tunnelsBefore);
  });
});

describe('proxy variables', () => {
  it('one that is no proxy URL is bad input naming the variable, not its value; a file export does not read them', async () => {
    const { server } = await startHec();
    for (const [name, value] of [['HTTP_PROXY', 'http://[bad'], ['http_proxy', 'proxy.example:3128'], ['HTTP_PROXY', 'http://user:pa55word@[::1']] as const) {
      const result = await exportTo(server.url, [], { [name]: value });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.trim().split('\n')).toEqual([`error: ${name} is not a proxy URL such as http://proxy:3128 (http, https or socks5): fix or unset it`]);
    }
    const file = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--json', '--out', join(dir, 'proxied.ndjson')], { env: { HTTP_PROXY: 'http://[bad' } });
    expect(file.code, file.stderr).toBe(0);
  });
});

describe.skipIf(!existsSync('/usr/bin/openssl'))('HTTPS through HTTPS_PROXY', () => {
  it('--ca-file is trusted inside the tunnel, as on a direct connection', async () => {
    await new Promise<void>((resolve, reject) => execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'hec.key'), '-out', join(dir, 'hec.crt'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    (error) => (error ? reject(error) : resolve())));
    let requests = 0;
    const server = createHttpsServer({ key: await readFile(join(dir, 'hec.key')), cert: await readFile(join(dir, 'hec.crt')) }, (req, res) => {
      req.resume();
      req.on('end', () => {
        requests += 1;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const proxy = await startConnectProxy();
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Failed before: the certificate was checked against the system's CAs only (DEPTH_ZERO_SELF_SIGNED_CERT).
    const result = await exportTo(url, ['--ca-file', join(dir, 'hec.crt'), '--gzip', '--max-retry-time', '0s'], { HTTPS_PROXY: proxy.url });
    expect(result.code, result.stderr).toBe(0);
    expect(proxy.tunnels()).toBeGreaterThan(0);
    expect(requests).toBeGreaterThan(0);
  });
});

describe('export start-up with the early connection', () => {
  /** A server that takes connections and never answers: the early connection waits for its timeout. */
  async function startSilentServer(): Promise<string> {
    const sockets = new Set<Socket>();
    const server: TcpServer = createTcpServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }));
    return `postgres://postgres@127.0.0.1:${(server.address() as AddressInfo).port}/test`;
  }

  it('a bad --out or --checkpoint path is exit 2 at once, not after the connect timeout', async () => {
    const db = await startSilentServer();
    for (const flag of [['--out', join(dir, 'missing', 'out.ndjson')], ['--checkpoint', join(dir, 'missing', 'cp.json'), '--out', '-']]) {
      // A 120 s connect timeout, and the run killed after 30 s: a run that waits for the connection ends by signal.
      const result = await spawnCli(['--db', db, '--connect-timeout', '120s', 'export', ...flag], { timeoutMs: 30_000 });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: cannot write --(out|checkpoint) .*does not exist/)]);
    }
  });

  it('a server that refuses, or does not answer within --connect-timeout, is one line and exit 1', async () => {
    const silent = await startSilentServer();
    for (const db of ['postgres://postgres@127.0.0.1:1/test', silent]) {
      const result = await spawnCli(['--db', db, '--connect-timeout', '1s', 'export', '--out', '-'], { timeoutMs: 30_000 });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/test/)]);
    }
  });
});
