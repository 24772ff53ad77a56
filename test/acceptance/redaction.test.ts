import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';

// Secrets in messages: only whole values of at least 8 characters are replaced, so ordinary words survive and a
// secret repeated by a server does not. Spawns the built binary (npm run build first).

let schema: TestSchema;
beforeAll(async () => {
  schema = await createTestSchema('redaction');
  await createDefaultTable(schema);
  await insertRows(schema, [{ age: '1 day', operator: 'alice', operation: 'update' }]);
});
afterAll(() => schema.drop());

const exportToHec = (url: string, token: string) =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--hec-url', url, '--max-retry-time', '0s'], { env: { API7_AUDIT_HEC_TOKEN: token } });

describe('redaction in messages', () => {
  it('a short token does not eat parts of the HEC answer (was "Invalid ***en"), and is not printed', async () => {
    const { server } = await FakeHec.start({ token: 'the-right-hec-token' });
    try {
      const result = await exportToHec(server.url, 'tok');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('Invalid token');
      expect(result.stderr).not.toContain('***en');
      expect(result.stderr).not.toMatch(/\btok\b/);
    } finally {
      await server.close();
    }
  });

  describe('a server that repeats the token in its answer', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        const token = String(req.headers.authorization ?? '').replace(/^Splunk /, '');
        req.resume();
        req.on('end', () => {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ text: `Invalid authorization: token ${token} is unknown (tokens%3D${token})`, code: 4 }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('the whole token is replaced wherever it stands, a word that merely contains it is left alone', async () => {
      const result = await exportToHec(url, 'authoriz');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('Invalid authorization: token ****** is unknown (tokens%3D******)');
      expect(result.stderr.replace(/authorization/g, '')).not.toContain('authoriz');
    });

    it('a long token with base64 punctuation is replaced whole', async () => {
      const token = 'dGVzdDp0b2tlbi12YWx1ZQ==';
      const result = await exportToHec(url, token);
      expect(result.code).toBe(1);
      expect(result.stderr).not.toContain(token);
      expect(result.stderr).toContain('token ****** is unknown');
    });
  });

  it('a database password that is part of a word in a message leaves the word whole (was "EC******ED")', async () => {
    const result = await spawnCli(['--db', 'postgres://auditor:ONNREFUS@127.0.0.1:1/audit', 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ECONNREFUSED');
    expect(result.stderr).toContain('cannot connect to PostgreSQL at 127.0.0.1:1/audit (from --db)');
    expect(result.stderr).not.toContain('ONNREFUS@');
  });

  it('a short database password is never printed: messages name host:port/db, never the URL', async () => {
    const result = await spawnCli(['--db', 'postgres://auditor:pw@127.0.0.1:1/audit', 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot connect to PostgreSQL at 127.0.0.1:1/audit');
    expect(result.stderr).not.toMatch(/:pw@|\bpw\b/);
  });
});
