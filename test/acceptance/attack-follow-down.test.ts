import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { asServerUser, ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { sleep } from '../support/wait.js';

/**
 * `follow` against a server that goes down for longer than the retry budget (10 attempts, full jitter from 0.5 s
 * doubling up to 30 s: about 60 s on average, so this file takes a minute or two).
 */
let server: OwnPostgres;

beforeAll(async () => {
  if (ownPostgresAvailable) server = await startOwnPostgres('attack-follow-down');
}, 120_000);
afterAll(async () => {
  await server?.stop();
});


describe.skipIf(!ownPostgresAvailable)('follow when the server stays down', () => {
  it('retries 9 times, then says where to continue and one error line, exit 1, no stack trace', async () => {
    const client = new pg.Client({ connectionString: server.url, application_name: 'control-plane' });
    await client.connect();
    const id = (await client.query<{ id: string }>(`insert into audit_logs (operator) values ('before-down') returning id::text`)).rows[0]?.id;
    await client.end();
    const running = startCli(['--db', server.url, 'follow', '--since', '1h', '--interval', '100ms', '--settle', '0', '--output', 'ndjson'], { timeoutMs: 200_000 });
    const deadline = Date.now() + 30_000;
    while (!running.stdout().includes('before-down') && Date.now() < deadline) await sleep(50);
    await asServerUser('pg_ctl', ['-D', join(server.dir, 'data'), '-w', '-t', '60', '-m', 'fast', 'stop']);
    const result = await running.result;
    expect(result.code, result.stderr).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines.filter((line) => line.startsWith('warning: lost the connection to PostgreSQL'))).toHaveLength(9);
    expect(lines.at(-1)).toMatch(new RegExp(`^error: lost the connection to PostgreSQL at 127\\.0\\.0\\.1:${server.port}/postgres during follow: `));
    expect(lines.at(-2)).toMatch(/^Stopped\. Continue with: --cursor \S+$/);
    expect(result.stderr).not.toMatch(/\n\s+at |--debug/);
    expect(result.stdout).toContain(`"id":"${id}"`);
  }, 200_000);
});
