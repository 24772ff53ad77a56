/**
 * The database behind `api7-audit --demo`: an in-memory PGlite (PostgreSQL compiled to wasm) with the default
 * table from examples/schema.sql and a few thousand generated entries, served on an ephemeral 127.0.0.1 port so
 * the rest of the CLI talks to it through `pg` exactly as it talks to a real server.
 */
import { readFile } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import { packageFile } from '../package-file.js';
import { generateDemoEntries, type DemoEntry } from './data.js';

export interface DemoDatabase {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`; the default table is `audit_logs` in `public`. */
  url: string;
  /**
   * Stops the server and closes the database; safe to call more than once. End `pg` clients and pools first:
   * stopping closes their sockets, which an idle pool client reports as an 'error' event.
   */
  stop(): Promise<void>;
}

export interface DemoDatabaseOptions {
  /** How many entries to seed (default 6000). */
  count?: number;
}


/**
 * PGlite is a single session: every connection shares one backend, and the socket server runs one statement at
 * a time (a transaction keeps its connection's turn). Several connections are allowed so that a pool works, but
 * session settings made on one are seen by all.
 */
const MAX_CONNECTIONS = 8;

/** Rows per INSERT: one JSON parameter of about 3 MB, so 6000 entries take two round trips. */
const BATCH_SIZE = 3000;

const INSERT_SQL = `
INSERT INTO audit_logs
  (created_at, operator, operation, resource_type, resource_id, resource_name, source_ip, source, before, after)
SELECT now() - make_interval(secs => r."ageSeconds"), r.operator, r.operation, r.resource_type, r.resource_id,
  r.resource_name, r.source_ip::inet, r.source, r.before, r.after
FROM json_to_recordset($1::json) AS r("ageSeconds" double precision, operator text, operation text,
  resource_type text, resource_id text, resource_name text, source_ip text, source text, before jsonb, after jsonb)
ORDER BY r."ageSeconds" DESC`;

/**
 * Creates the table, inserts the entries oldest first (so ids follow time) in one transaction, then creates the
 * indexes: one bulk build per index is cheaper than maintaining seven of them row by row. now() is the same for
 * every row of the transaction, so the spacing between entries is exactly the generated one.
 */
async function seedDemoDatabase(db: PGlite, schema: string, entries: readonly DemoEntry[]): Promise<void> {
  const firstIndex = schema.search(/^CREATE INDEX/m);
  await db.exec(firstIndex > 0 ? schema.slice(0, firstIndex) : schema);
  await db.transaction(async (tx) => {
    for (let start = 0; start < entries.length; start += BATCH_SIZE) {
      await tx.query(INSERT_SQL, [JSON.stringify(entries.slice(start, start + BATCH_SIZE))]);
    }
  });
  if (firstIndex > 0) await db.exec(schema.slice(firstIndex));
  // PGlite runs no autovacuum: without statistics the planner would guess, and demo plans should look real. The
  // JSON columns are left out: nothing filters on them, and their statistics cost as much as all the others.
  await db.exec('ANALYZE audit_logs (created_at, operator, operation, resource_type, resource_id, source_ip, source)');
}

/** Starts the demo database; the caller must `stop()` it. */
export async function startDemoDatabase(options: DemoDatabaseOptions = {}): Promise<DemoDatabase> {
  // Imported here, not at the top: loading PGlite costs time and memory that only --demo should pay.
  const [{ PGlite }, { PGLiteSocketServer }, schema] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
    readFile(packageFile('examples/schema.sql'), 'utf8'),
  ]);
  const created = PGlite.create();
  // Generate while the wasm module compiles in the background.
  const entries = generateDemoEntries(options.count === undefined ? {} : { count: options.count });
  const db = await created;
  let server: InstanceType<typeof PGLiteSocketServer> | undefined;
  try {
    await seedDemoDatabase(db, schema, entries);
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: MAX_CONNECTIONS });
    await server.start();
  } catch (error) {
    await server?.stop().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  }
  const running = server;
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${running.getServerConn()}/postgres`,
    stop() {
      stopping ??= (async () => {
        try {
          await running.stop();
        } finally {
          await db.close();
        }
      })();
      return stopping;
    },
  };
}
