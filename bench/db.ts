import pg from 'pg';

/** What the bench runs against, for the report and to skip what an embedded server cannot do. */
export interface ServerInfo {
  version: string;
  /** PGlite (embedded, WASM, one backend): no COPY TO STDOUT through psql, no parallel seeding. */
  embedded: boolean;
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'api7-audit-bench' });
  // A dropped connection must fail the run, not crash it with an unhandled 'error' event.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function serverInfo(client: pg.Client): Promise<ServerInfo> {
  const { rows } = await client.query<{ version: string }>('select version() as version');
  const version = rows[0]?.version ?? 'unknown';
  return { version, embedded: /PGlite/i.test(version) };
}

/** Runs `fn` with its own connection, closed afterwards. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Bench schemas are named by the bench itself, never by a user: plain lower-case identifiers only. */
export function checkIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return name;
}
