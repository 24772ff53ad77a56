import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * A PostgreSQL server of one test file's own (initdb in a temp dir, a free 127.0.0.1 port), for tests that restart,
 * reconfigure or replicate a server: the shared test server is never touched. Debian's server programs live in
 * /usr/lib/postgresql/<major>/bin; the newest installed major is used.
 */
const run = promisify(execFile);

export const PG_BIN = (() => {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  return join(root, majors[0] ?? 'missing', 'bin');
})();

/**
 * Whether initdb and pg_ctl are installed. CI always has them (it runs the shared server from the same packages), so
 * there a missing binary fails the tests instead of skipping them.
 */
export const ownPostgresAvailable = (existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'))) || process.env.CI === 'true';

/** Runs a server program as the postgres user when this process is root (initdb and postgres refuse root). */
export async function asServerUser(program: string, args: string[]): Promise<void> {
  const command = join(PG_BIN, program);
  if (process.getuid?.() === 0) await run('runuser', ['-u', 'postgres', '--', command, ...args], { timeout: 60_000 });
  else await run(command, args, { timeout: 60_000 });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

export interface OwnPostgres {
  /** The temp dir: data directories, logs and the socket live in it; anything else a test writes may too. */
  dir: string;
  port: number;
  url: string;
  /** Runs statements in order on a new connection (application_name `control-plane`); returns the last one's rows. */
  query<R extends pg.QueryResultRow>(...statements: string[]): Promise<R[]>;
  /** `pg_ctl restart -m mode`, with the options it was started with. */
  restart(mode: 'smart' | 'fast' | 'immediate'): Promise<void>;
  /** Starts another server (a standby) from a data directory in `dir`; returns its port. */
  startOther(data: string, extraOptions?: string): Promise<number>;
  stop(): Promise<void>;
}

/** initdb, start with `extraOptions` (`-c name=value ...`), and create examples/schema.sql's table. */
export async function startOwnPostgres(prefix: string, extraOptions = ''): Promise<OwnPostgres> {
  const dir = await mkdtemp(join(tmpdir(), `api7-${prefix}-`));
  if (process.getuid?.() === 0) await run('chown', ['postgres', dir]);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const ctl = (data: string, ...args: string[]) =>
    asServerUser('pg_ctl', ['-D', join(dir, data), '-l', join(dir, `${data}.log`), '-w', '-t', '60', ...args]);
  const options = (at: number, extra: string) => `-p ${at} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off ${extra}`;
  const started = ['data'];
  await asServerUser('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-N']);
  await ctl('data', '-o', options(port, extraOptions), 'start');
  const server: OwnPostgres = {
    dir,
    port,
    url,
    async query<R extends pg.QueryResultRow>(...statements: string[]): Promise<R[]> {
      const client = new pg.Client({ connectionString: url, application_name: 'control-plane' });
      await client.connect();
      try {
        let rows: R[] = [];
        for (const text of statements) rows = (await client.query<R>(text)).rows;
        return rows;
      } finally {
        await client.end();
      }
    },
    restart: (mode) => ctl('data', '-m', mode, '-o', options(port, extraOptions), 'restart'),
    async startOther(data, extra = extraOptions) {
      const at = await freePort();
      await ctl(data, '-o', options(at, extra), 'start');
      started.push(data);
      return at;
    },
    async stop() {
      for (const data of started.reverse()) await ctl(data, '-m', 'immediate', 'stop').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.query(await readFile(new URL('../../examples/schema.sql', import.meta.url), 'utf8'));
  return server;
}
