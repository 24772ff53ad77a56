import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { fatalMessage } from './attack-connect-server.js';

// H44 mutation audit (docs/decisions/008-mutation-audit.md): with main.ts's last redaction pass removed (the one that
// replaces registered passwords in whatever a library or a server says), every secrets and connecting test passed:
// none had a server repeat the password. This one does, in the FATAL that answers the start-up message.

const PASSWORD = 'Pw-h44-Zq7sEcret';
const servers: Server[] = [];
const sockets = new Set<Socket>();

/** A server that declines TLS, then answers the start-up message with a FATAL quoting `text`; returns its port. */
async function echoingServer(text: string): Promise<number> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (data) => (data.readInt32BE(4) === 80877103 ? socket.write('N') : socket.end(fatalMessage('28P01', text))));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('a server that repeats the password in its error', () => {
  it.each([
    ['the URL', (port: number) => ({ argv: [], env: { API7_AUDIT_DATABASE_URL: `postgres://auditor:${PASSWORD}@127.0.0.1:${port}/auditdb` } })],
    ['PGPASSWORD', (port: number) => ({ argv: ['--db', `postgres://auditor@127.0.0.1:${port}/auditdb`], env: { PGPASSWORD: PASSWORD } })],
  ])('with the password from %s: one line, exit 1, the password replaced (with --debug too)', async (_, given) => {
    const port = await echoingServer(`password authentication failed for user "auditor" (password "${PASSWORD}")`);
    const { argv, env } = given(port);
    for (const debug of [[], ['--debug']]) {
      const result = await spawnCli([...argv, ...debug, 'list'], { env: { HOME: '/nonexistent', ...env }, timeoutMs: 30_000 });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('password authentication failed');
      expect(result.stderr).toContain('******');
      expect(result.stderr).not.toContain(PASSWORD);
      expect(result.stdout).toBe('');
      if (debug.length === 0) expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
