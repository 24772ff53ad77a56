import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeServer, type FakeReply, type FakeRequest, type Protocol } from '../support/fake-server.js';

// What a user types for a destination, and what a destination answers, through the built binary: a Datadog site
// that names another host, an Elasticsearch URL carrying user:password, and replies that carry terminal escapes.

const ENTRIES = 6;
let schema: TestSchema;
const servers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  schema = await createTestSchema('sinkinput');
  await createDefaultTable(schema);
  await insertRows(schema, Array.from({ length: ENTRIES }, (_, i) => ({ age: `${i + 1} hours`, operator: 'alice', operation: 'UPDATE', resource_id: `r-${i}` })));
});
afterAll(async () => {
  await Promise.all([schema?.drop(), ...servers.map((server) => server.close())]);
});

const exportTo = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--json', '--max-retry-time', '0', ...args], { env });

/** One line on stderr, no stack, nothing on stdout. */
const expectOneLine = (result: CliResult, code: number) => {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
};

/** A TCP listener on 127.0.0.1 that counts connections and never answers: anything that reaches it is a leak. */
async function startListener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const listener = {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(listener);
  return listener;
}

/** A destination that answers every request with `reply`, recording the headers it was sent. */
async function startAnswering(reply: FakeReply): Promise<{ server: FakeServer; requests: FakeRequest[] }> {
  const requests: FakeRequest[] = [];
  const protocol: Protocol = {
    handle: (request) => {
      requests.push(request);
      return reply;
    },
    failure: () => reply,
    discardReply: () => reply,
  };
  const server = await new FakeServer(protocol).start();
  servers.push(server);
  return { server, requests };
}

describe('--datadog-site', () => {
  const KEY = 'dd-ApiKey-0123456789';

  it('refuses a site that names another host (exit 2, naming the value and the sites); nothing connects', async () => {
    const listener = await startListener();
    const hostile = [
      `datadoghq.com@127.0.0.1:${listener.port}`,
      `datadoghq.com:${listener.port}@127.0.0.1:${listener.port}`,
      `127.0.0.1:${listener.port}`,
      `datadoghq.com/@127.0.0.1:${listener.port}`,
      `datadoghq.com#@127.0.0.1:${listener.port}`,
      'evil.example.com',
      'datadoghq.com.evil.example',
    ];
    for (const site of hostile) {
      const result = await exportTo(['--datadog-site', site], { DD_API_KEY: KEY });
      expectOneLine(result, 2);
      expect(result.stderr).toContain(`--datadog-site '${site}'`);
      for (const known of ['datadoghq.com', 'us3.datadoghq.com', 'us5.datadoghq.com', 'datadoghq.eu', 'ap1.datadoghq.com', 'ap2.datadoghq.com', 'ddog-gov.com']) {
        expect(result.stderr).toContain(known);
      }
      expect(result.stderr).toContain('--datadog-url');
      expect(result.stderr).not.toContain(KEY);
    }
    expect(listener.connections()).toBe(0);
  });

  it('takes each of Datadog\'s sites, in any letter case (a dry run: nothing leaves this machine)', async () => {
    for (const site of ['datadoghq.com', 'us3.datadoghq.com', 'us5.datadoghq.com', 'DatadogHQ.EU', 'ap1.datadoghq.com', 'ap2.datadoghq.com', 'ddog-gov.com']) {
      const result = await exportTo(['--datadog-site', site, '--dry-run'], { DD_API_KEY: KEY });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ would_export: ENTRIES, destination: `Datadog ${site.toLowerCase()}` });
    }
  });
});

describe('a destination\'s answer quoted in a message', () => {
  // OSC retitles the terminal, CSI 2J clears it, BEL rings; a bidi override reorders what follows.
  const HOSTILE = '\u001b]0;pwned\u0007\u001b[2J\u001b[31mred\u202eevil';
  const TOKEN = 'hec-T0ken-abcdefgh';

  /** Terminal-safe, the escapes shown as text, and short: a 20 KB page comes out in a few hundred characters. */
  const expectQuotedSafely = (result: CliResult) => {
    expectOneLine(result, 1);
    // eslint-disable-next-line no-control-regex -- the point is that no control character reaches the terminal
    expect(result.stderr.trimEnd()).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(result.stderr).toContain('\\u001b]0;pwned\\u0007');
    expect(result.stderr.length).toBeLessThan(1000);
  };

  it('Splunk HEC: a proxy page with escapes, 20 KB long', async () => {
    const { server } = await startAnswering({ status: 400, body: `${HOSTILE} ${'y'.repeat(20_000)}`, headers: { 'content-type': 'text/html' } });
    expectQuotedSafely(await exportTo(['--hec-url', server.url], { API7_AUDIT_HEC_TOKEN: TOKEN }));
  });

  it('Splunk HEC: a reply echoing the token across the cut shows none of it', async () => {
    // The token straddles the 300th character: cut before redacting, its first characters would be printed.
    const { server } = await startAnswering({ status: 400, body: `${'x'.repeat(294)} ${TOKEN} ${'y'.repeat(1000)}`, headers: { 'content-type': 'text/html' } });
    const result = await exportTo(['--hec-url', server.url], { API7_AUDIT_HEC_TOKEN: TOKEN });
    expectOneLine(result, 1);
    expect(result.stderr).not.toContain(TOKEN.slice(0, 4));
  });

  it('Splunk HEC: the text of a HEC error reply', async () => {
    const { server } = await startAnswering({ status: 400, body: JSON.stringify({ text: `${HOSTILE} ${'z'.repeat(20_000)}`, code: 6 }) });
    expectQuotedSafely(await exportTo(['--hec-url', server.url], { API7_AUDIT_HEC_TOKEN: TOKEN }));
  });

  it('Elasticsearch: an error reply, and a bulk item refused', async () => {
    const error = { error: { type: 'illegal_argument_exception', reason: `${HOSTILE} ${'z'.repeat(20_000)}` }, status: 400 };
    const { server } = await startAnswering({ status: 400, body: JSON.stringify(error) });
    expectQuotedSafely(await exportTo(['--elastic-url', server.url], { API7_AUDIT_ELASTIC_API_KEY: 'es-key-0123456789' }));

    const item = { create: { status: 400, error: { type: `mapper_${HOSTILE}`, reason: `${HOSTILE} ${'z'.repeat(20_000)}` } } };
    const bulk = await startAnswering({ status: 200, body: JSON.stringify({ took: 1, errors: true, items: Array.from({ length: ENTRIES }, () => item) }) });
    expectQuotedSafely(await exportTo(['--elastic-url', bulk.server.url], { API7_AUDIT_ELASTIC_API_KEY: 'es-key-0123456789' }));
  });

  it('Datadog: an error reply', async () => {
    const { server } = await startAnswering({ status: 400, body: `${HOSTILE} ${'z'.repeat(20_000)}`, headers: { 'content-type': 'text/plain' } });
    expectQuotedSafely(await exportTo(['--datadog-url', server.url], { DD_API_KEY: 'dd-ApiKey-0123456789' }));
  });
});

describe('Elasticsearch basic auth from --elastic-url', () => {
  const USER = 'auditor';
  const PASSWORD = 'S3cret/pa#ss@word';
  const encoded = encodeURIComponent(PASSWORD);

  /** FakeElastic behind basic auth: the right user and password, else 401; the headers it got are kept. */
  async function startBasicElastic(): Promise<{ server: FakeServer; es: FakeElastic; authorizations: string[] }> {
    const es = new FakeElastic({ apiKey: 'inner' });
    const authorizations: string[] = [];
    const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    const protocol: Protocol = {
      handle(request) {
        authorizations.push(String(request.headers.authorization));
        if (request.headers.authorization !== expected) return { status: 401, body: '{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}' };
        return es.handle({ ...request, headers: { ...request.headers, authorization: 'ApiKey inner' } });
      },
      failure: (status) => es.failure(status),
      discardReply: () => es.discardReply(),
    };
    const server = await new FakeServer(protocol).start();
    servers.push(server);
    return { server, es, authorizations };
  }
  const withUser = (url: string, password = encoded) => url.replace('http://', `http://${USER}:${password}@`);

  it('exports with Authorization: Basic, warns once that argv is visible, and never prints the password', async () => {
    const { server, es, authorizations } = await startBasicElastic();
    const result = await exportTo(['--elastic-url', withUser(server.url)]);
    expect(result.code, result.stderr).toBe(0);
    expect(es.ids.unique).toBe(ENTRIES);
    expect(authorizations.length).toBeGreaterThan(0);
    expect(authorizations.every((value) => value.startsWith('Basic '))).toBe(true);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^warning: the password in --elastic-url is visible to other users/)]);
    const summary = JSON.parse(result.stdout) as { destination: string };
    expect(summary.destination).not.toContain(USER);
    for (const secret of [PASSWORD, encoded, 'S3cret']) expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it('an @ left unencoded in the password works too; the URL beats API7_AUDIT_ELASTIC_API_KEY', async () => {
    const { server, es } = await startBasicElastic();
    const raw = encoded.replace('%40', '@');
    const result = await exportTo(['--elastic-url', withUser(server.url, raw)], { API7_AUDIT_ELASTIC_API_KEY: 'env-key-0123456789' });
    expect(result.code, result.stderr).toBe(0);
    expect(es.ids.unique).toBe(ENTRIES);
    expect(result.stdout + result.stderr).not.toContain('S3cret');
  });

  it('a wrong password is a one-line credentials error that names neither password', async () => {
    const { server } = await startBasicElastic();
    const result = await exportTo(['--elastic-url', withUser(server.url, 'Wr0ng-passw0rd')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('rejected the credentials');
    expect(result.stderr).not.toContain('Wr0ng-passw0rd');
  });

  it('bad forms are exit 2, the password masked: with an API key flag too, a user alone, an unencoded slash', async () => {
    const url = 'http://127.0.0.1:9';
    const both = await exportTo(['--elastic-url', withUser(url), '--elastic-api-key', 'flag-key-0123456789']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
    const userOnly = await exportTo(['--elastic-url', `http://${USER}@127.0.0.1:9`]);
    expect(userOnly.code).toBe(2);
    expect(userOnly.stderr).toContain('USER:PASSWORD');
    const slash = await exportTo(['--elastic-url', `http://${USER}:${PASSWORD}@127.0.0.1:9`]);
    expect(slash.code).toBe(2);
    for (const result of [both, userOnly, slash]) {
      expect(result.stderr.trimEnd().split('\n').at(-1)).toMatch(/^error: /);
      expect(result.stderr).not.toContain('S3cret');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('with neither, the error names both ways', async () => {
    const result = await exportTo(['--elastic-url', 'http://127.0.0.1:9']);
    expectOneLine(result, 2);
    expect(result.stderr).toContain('API7_AUDIT_ELASTIC_API_KEY');
    expect(result.stderr).toContain('user:password in --elastic-url');
  });
});
