import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';

// What issue 14's layout changed for a user, through the built binary: flags parsed where they are declared (a bad
// value is one line and exit 2 before any connection), and the HTTP sinks taking HTTP_PROXY / NO_PROXY from the
// environment the run was given rather than undici reading process.env on its own.

const ENTRIES = 7;
let schema: TestSchema;
let ids: string[];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  schema = await createTestSchema('acc_layout');
  await createDefaultTable(schema);
  ids = await insertRows(schema, Array.from({ length: ENTRIES }, (_, i) => ({ age: `${i + 1} hours`, operator: 'alice', operation: 'UPDATE', resource_type: 'route', resource_id: `r-${i}` })));
});
afterAll(async () => {
  await Promise.all([schema.drop(), ...closers.map((close) => close())]);
});

/** A forward proxy on 127.0.0.1 that tunnels CONNECT and forwards absolute-URI requests, recording each target. */
async function startProxy(): Promise<{ url: string; targets: string[] }> {
  const targets: string[] = [];
  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? '/');
    targets.push(target.host);
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    targets.push(req.url ?? '');
    const [host = '', port = '80'] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets };
}

async function startHec(): Promise<{ server: FakeServer; hec: FakeHec }> {
  const started = await FakeHec.start({ token: 'hec-T0ken-x' });
  closers.push(() => started.server.close());
  return started;
}

const exportTo = (url: string, env: NodeJS.ProcessEnv) =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--json', '--hec-url', url], {
    env: { API7_AUDIT_HEC_TOKEN: 'hec-T0ken-x', HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '', ...env },
  });

describe('export through a proxy named in its environment', () => {
  it('http_proxy: every request goes through the proxy, every entry arrives once', async () => {
    const proxy = await startProxy();
    const { server, hec } = await startHec();
    const result = await exportTo(server.url, { http_proxy: proxy.url });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ exported: ENTRIES });
    expect([...hec.ids.ids].sort()).toEqual([...ids].sort());
    const hecHost = new URL(server.url).host;
    expect(proxy.targets.length).toBeGreaterThan(0);
    expect(new Set(proxy.targets)).toEqual(new Set([hecHost]));
  });

  it('no_proxy naming the destination: the proxy sees nothing, the entries still arrive', async () => {
    const proxy = await startProxy();
    const { server, hec } = await startHec();
    const result = await exportTo(server.url, { http_proxy: proxy.url, no_proxy: '127.0.0.1' });
    expect(result.code, result.stderr).toBe(0);
    expect(hec.ids.ids.length).toBe(ENTRIES);
    expect(proxy.targets).toEqual([]);
  });
});

describe('flags parsed where they are declared, before any connection', () => {
  // No --db and a server that would never answer: a bad flag must be refused before connecting is even tried.
  const refuse = (args: string[]) => spawnCli(['--db', 'postgres://nobody@127.0.0.1:1/none', ...args]);

  it.each([
    [['show', '1', '--json', '--output', 'text'], 'error: --json conflicts with --output text'],
    [['list', '--json', '--output', 'csv'], 'error: --json conflicts with --output csv'],
    [['list', '--limit', '0'], "error: invalid --limit '0': expected a whole number of at least 1"],
    [['list', '--all', '--limit', 'many'], "error: invalid --limit 'many': expected a whole number of at least 1"],
  ])('%j: one line, exit 2', async (args, line) => {
    const result = await refuse(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`${line}\n`);
  });
});
