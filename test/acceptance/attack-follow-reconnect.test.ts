import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';
import { interruptAtOnce, ndjsonIds, waitFor } from '../support/wait.js';
import { fatalMessage } from './attack-connect-server.js';

/**
 * `follow` while it reconnects, through a proxy of this file's own in front of the shared server: forwarding, then
 * silent (accepts TCP and never answers, as a black-holing firewall or a frozen server), then forwarding again.
 */
type Mode = 'forward' | 'silent' | 'fatal';

interface Proxy {
  port: number;
  mode: Mode;
  /** Connections accepted while silent. */
  silentAccepts: number;
  /** What the server says (a FATAL) to a start-up while the mode is 'fatal'. */
  fatal: { code: string; text: string };
  /** The local ports of the forwarded upstream sockets: pg_stat_activity.client_port of follow's backends. */
  upstreamPorts: number[];
  /** Drops every connection open now (follow sees its connection end with no word from the server). */
  cut(): void;
  close(): Promise<void>;
}

async function startProxy(target: { host: string; port: number }): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server: Server = createServer((socket) => {
    track(socket);
    if (proxy.mode === 'silent') {
      proxy.silentAccepts += 1;
      return;
    }
    if (proxy.mode === 'fatal') {
      socket.once('data', () => socket.end(fatalMessage(proxy.fatal.code, proxy.fatal.text)));
      return;
    }
    const upstream = connectTcp(target.port, target.host);
    track(upstream);
    upstream.on('connect', () => proxy.upstreamPorts.push(upstream.localPort ?? 0));
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: Proxy = {
    port: (server.address() as { port: number }).port,
    mode: 'forward',
    silentAccepts: 0,
    fatal: { code: '57P03', text: FATAL_TEXT },
    upstreamPorts: [],
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      proxy.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return proxy;
}

/** What a hostile or broken server may say: an escape sequence that retitles the terminal, a newline, the password. */
const PASSWORD = 'Hunter2-Follow-Secret';
const FATAL_TEXT = `the database system is starting up\u001b]0;owned\u0007\nforged line ${PASSWORD}`;

let schema: TestSchema;
let proxy: Proxy;

beforeAll(async () => {
  schema = await createTestSchema('follow_reconnect');
  await createDefaultTable(schema);
  await insertRows(schema, [{ operator: 'alice', operation: 'create', resource_type: 'route', resource_id: 'r1' }]);
  const url = new URL(databaseUrl());
  proxy = await startProxy({ host: url.hostname, port: Number(url.port || 5432) });
});
afterAll(async () => {
  await proxy?.close();
  await schema?.drop();
});

/** The shared server's URL with the proxy's port. */
function proxiedUrl(): string {
  const url = new URL(databaseUrl());
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return url.toString();
}

const follow = (...args: string[]) =>
  startCli(['--db', proxiedUrl(), '--table', schema.table(), 'follow', '--since', '1h', '--output', 'ndjson', '--interval', '100ms', '--settle', '0', ...args], { timeoutMs: 60_000 });

describe.skipIf(isEmbedded())('follow reconnecting through a proxy that turns silent', () => {
  it('Ctrl-C while a reconnect waits on a server that accepts TCP and never answers: exit 0 at once, with the cursor', async () => {
    proxy.mode = 'forward';
    const running = follow('--connect-timeout', '600s');
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    proxy.mode = 'silent';
    const accepted = proxy.silentAccepts;
    proxy.cut();
    // The first retry comes within 0.5 s (full jitter); it then waits in the connect that the proxy never answers.
    await waitFor(() => proxy.silentAccepts > accepted || running.exited(), 20_000, 'follow to reconnect');
    expect(running.stderr()).toMatch(/warning: lost the connection to PostgreSQL \(.+\); reconnecting in/);
    const result = await interruptAtOnce(running);
    expect(result.stderr).toMatch(/Stopped\. Continue with: --cursor \S+\n$/);
    expect(result.stderr).not.toMatch(/\n\s+at |error:/);
  }, 60_000);

  it('--for ends on time while a reconnect waits on a server that never answers (exit 0, with the cursor)', async () => {
    proxy.mode = 'forward';
    const started = Date.now();
    const running = follow('--connect-timeout', '600s', '--for', '4s');
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    proxy.mode = 'silent';
    proxy.cut();
    const result = await running.result;
    expect(result.code, result.stderr).toBe(0);
    // 4 s, plus the start-up on a loaded machine; not the 600 s connect timeout.
    expect(Date.now() - started, '--for is kept').toBeLessThan(30_000);
    expect(result.stderr).toMatch(/Stopped\. Continue with: --cursor \S+\n$/);
  }, 60_000);

  it('a reconnect that times out (connect_timeout=2 in the URL) is retried, says which server did not answer, and goes on once it answers', async () => {
    proxy.mode = 'forward';
    const url = new URL(proxiedUrl());
    url.searchParams.set('connect_timeout', '2');
    const running = startCli(['--db', url.toString(), '--table', schema.table(), 'follow', '--since', '1h', '--output', 'ndjson', '--interval', '100ms', '--settle', '0'], { timeoutMs: 60_000 });
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    proxy.mode = 'silent';
    proxy.cut();
    await waitFor(() => /connection timed out/.test(running.stderr()) || running.exited(), 20_000, 'a reconnect to time out');
    proxy.mode = 'forward';
    const [added] = await insertRows(schema, [{ operator: 'bob', operation: 'update', resource_type: 'route', resource_id: 'r2' }]);
    await waitFor(() => ndjsonIds(running.stdout()).includes(added as string) || running.exited(), 40_000, 'the entry added while silent');
    const result = await interruptAtOnce(running);
    expect(result.stderr).toMatch(new RegExp(`warning: lost the connection to PostgreSQL \\(connection timed out \\(no answer from 127\\.0\\.0\\.1:${proxy.port}\\/\\w+ within 2s\\)\\); reconnecting in`));
    expect(result.stderr).toContain('reconnected to PostgreSQL; continuing after');
  }, 90_000);

  it('what a server says on reconnecting is shown on one line, its escape sequences visible and the password masked', async () => {
    proxy.mode = 'forward';
    const url = new URL(proxiedUrl());
    url.searchParams.set('sslmode', 'disable');
    const running = startCli(['--db', url.toString(), '--table', schema.table(), 'follow', '--since', '1h', '--output', 'ndjson', '--interval', '100ms', '--settle', '0'], { env: { PGPASSWORD: PASSWORD }, timeoutMs: 60_000 });
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    proxy.mode = 'fatal';
    proxy.cut();
    await waitFor(() => /starting up/.test(running.stderr()) || running.exited(), 20_000, 'a reconnect to be refused');
    const result = await interruptAtOnce(running);
    expect(result.stderr).toMatch(/^warning: lost the connection to PostgreSQL \(the database system is starting up\\u001b\]0;owned\\u0007\\nforged line \*+\); reconnecting in/m);
    expect(result.stderr).not.toContain(PASSWORD);
    expect(result.stderr).not.toContain('\u001b');
    expect(result.stderr).not.toContain('\u0007');
    expect(result.stderr).not.toMatch(/^forged line/m);
  }, 60_000);

  it('a reconnect refused with "too many clients" (53300) is retried, not the end of follow', async () => {
    proxy.mode = 'forward';
    const running = follow();
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    proxy.fatal = { code: '53300', text: 'sorry, too many clients already' };
    proxy.mode = 'fatal';
    proxy.cut();
    try {
      await waitFor(() => /too many clients/.test(running.stderr()) || running.exited(), 20_000, 'a reconnect to be refused');
    } finally {
      proxy.mode = 'forward';
      proxy.fatal = { code: '57P03', text: FATAL_TEXT };
    }
    await waitFor(() => /reconnected to PostgreSQL/.test(running.stderr()) || running.exited(), 40_000, 'follow to reconnect');
    const result = await interruptAtOnce(running);
    expect(result.stderr).toMatch(/^warning: lost the connection to PostgreSQL \(sorry, too many clients already\); reconnecting in/m);
    expect(result.stderr).not.toMatch(/^error:/m);
  }, 90_000);

  it("the warning names the server's reason (pg_terminate_backend), not pg's generic one", async () => {
    proxy.mode = 'forward';
    const before = proxy.upstreamPorts.length;
    const running = follow();
    await waitFor(() => ndjsonIds(running.stdout()).length > 0 || running.exited(), 30_000, 'the first entry');
    const ports = proxy.upstreamPorts.slice(before);
    // Only this follow's backends: other files run api7-audit against the shared server meanwhile.
    const { rows } = await schema.query<{ n: number }>('select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where client_port = any($1::int[])', [ports]);
    expect(rows[0]?.n).toBeGreaterThan(0);
    await waitFor(() => /reconnected to PostgreSQL/.test(running.stderr()) || running.exited(), 30_000, 'follow to reconnect');
    const result = await interruptAtOnce(running);
    expect(result.stderr).toMatch(/^warning: lost the connection to PostgreSQL \(terminating connection due to administrator command\); reconnecting in [\d.]+s \(attempt 1\)$/m);
    expect(result.stderr).not.toContain('Connection terminated unexpectedly');
    expect(result.stderr).not.toContain('not queryable');
  }, 60_000);
});
