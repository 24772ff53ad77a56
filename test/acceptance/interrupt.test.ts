import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

// The first SIGINT ends list, show, the demo's start-up and any command still connecting at once, with exit 130.
// Without it they ran to the end (list, the demo) or until --connect-timeout (a server that never answers).
const ROWS = 150_000;
/** Every wait is bounded: a process that ignores SIGINT is killed with SIGKILL after this long and the test fails. */
const BOUND_MS = 15_000;

let schema: TestSchema;
let silent: Server;
let silentPort: number;
const held: Socket[] = [];
let connections = 0;
const connected: (() => void)[] = [];

beforeAll(async () => {
  schema = await createTestSchema('interrupt');
  await createDefaultTable(schema);
  await schema.query(
    `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, before, after)
     select now() - i * interval '1 second', 'alice@example.com', 'update', 'route', 'r-' || i,
            jsonb_build_object('uri', '/old/' || i, 'pad', repeat('x', 200)), jsonb_build_object('uri', '/new/' || i)
     from generate_series(1, ${ROWS}) i`,
  );
  // Accepts TCP and never answers: the startup packet waits forever, as behind a black-holing proxy.
  silent = createServer((socket) => {
    held.push(socket);
    connections += 1;
    for (const resolve of connected.splice(0)) resolve();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  await schema?.drop();
});

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(argv: string[]): { child: ChildProcessWithoutNullStreams; outcome: Promise<Outcome> } {
  const child = spawn(process.execPath, [BIN, ...argv], { env: { PATH: process.env.PATH, HOME: '/nonexistent' }, stdio: 'pipe' });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
  const outcome = new Promise<Outcome>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    }),
  );
  return { child, outcome };
}

/** Resolves when the silent server has accepted one more connection than `before`. */
function nextConnection(before: number): Promise<void> {
  if (connections > before) return Promise.resolve();
  return new Promise((resolve) => connected.push(resolve));
}

const interrupted = { code: 130, signal: null, stderr: 'error: interrupted (SIGINT)\n' };

describe('the first SIGINT ends the run at once (exit 130)', () => {
  it('list --all streaming a large table into a slow pipe', async () => {
    const { child, outcome } = start(['--db', databaseUrl(), '--table', schema.table(), 'list', '--all', '-o', 'ndjson']);
    let chunks = 0;
    // A slow reader: a pause after every chunk, so the listing would take far longer than the bound.
    child.stdout.on('data', () => {
      chunks += 1;
      if (chunks === 1) child.kill('SIGINT');
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 20);
    });
    const result = await outcome;
    expect({ code: result.code, signal: result.signal, stderr: result.stderr }).toEqual(interrupted);
    // It stopped: the oldest entry (the last line of a full listing) was never printed.
    expect(result.stdout).not.toContain(`"resource_id":"r-${ROWS}"`);
  });

  it.each([
    ['list', ['list']],
    ['show', ['show', '1']],
    ['prune', ['prune', '--dry-run']],
    ['export', ['export', '--out', '/dev/null', '--settle', '0']],
  ])('%s while connecting to a server that accepts TCP and never answers', async (_name, argv) => {
    const before = connections;
    const { child, outcome } = start(['--db', `postgres://auditor@127.0.0.1:${silentPort}/audit`, '--connect-timeout', '600s', ...argv]);
    await Promise.race([nextConnection(before), outcome]);
    child.kill('SIGINT');
    const result = await outcome;
    expect({ code: result.code, signal: result.signal, stderr: result.stderr }).toEqual(interrupted);
    expect(result.stdout).toBe('');
  });

  it('--demo list during the demo database start-up', async () => {
    const { child, outcome } = start(['--demo', 'list']);
    // The demo takes seconds to start (PGlite and 6000 entries); a second in, the binary is loaded and still starting.
    await Promise.race([sleep(1000), outcome]);
    child.kill('SIGINT');
    const result = await outcome;
    expect({ code: result.code, signal: result.signal, stderr: result.stderr }).toEqual(interrupted);
    expect(result.stdout).toBe('');
  });
});
