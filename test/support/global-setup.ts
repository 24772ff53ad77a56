import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    databaseKind: 'server' | 'embedded';
  }
}

/**
 * Provides the database every test uses: the real server named by TEST_DATABASE_URL, or else an embedded PGlite
 * served on an ephemeral 127.0.0.1 port, so the same pg code path runs either way.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    project.provide('databaseUrl', url);
    project.provide('databaseKind', 'server');
    return async () => undefined;
  }
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 16 });
  await server.start();
  project.provide('databaseUrl', `postgres://postgres@${server.getServerConn()}/postgres`);
  project.provide('databaseKind', 'embedded');
  return async () => {
    await server.stop();
    await db.close();
  };
}
