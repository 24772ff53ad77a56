import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoDatabase, type DemoDatabase } from '../../src/demo/database.js';

let demo: DemoDatabase | undefined;
let client: pg.Client | undefined;

async function one<T>(text: string): Promise<T> {
  if (!client) throw new Error('not connected');
  const { rows } = await client.query<{ value: T }>(text);
  return rows[0]?.value as T;
}

beforeAll(async () => {
  demo = await startDemoDatabase();
  client = new pg.Client({ connectionString: demo.url });
  await client.connect();
}, 60_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await demo?.stop();
});

describe('startDemoDatabase', () => {
  it('serves PostgreSQL on an ephemeral loopback port', async () => {
    expect(demo?.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(await one<string>('SELECT current_database() AS value')).toBe('postgres');
  });

  it('seeds 6000 entries with ids in time order', async () => {
    expect(await one<string>('SELECT count(*) AS value FROM audit_logs')).toBe('6000');
    const outOfOrder = `SELECT count(*) AS value FROM (
      SELECT created_at < lag(created_at) OVER (ORDER BY id) AS back FROM audit_logs) s WHERE back`;
    expect(await one<string>(outOfOrder)).toBe('0');
  });

  it('spreads the entries over the last 120 days relative to now()', async () => {
    expect(await one<boolean>(`SELECT max(created_at) <= now() AND max(created_at) > now() - interval '1 day'
      AS value FROM audit_logs`)).toBe(true);
    expect(await one<boolean>(`SELECT min(created_at) >= now() - interval '120 days'
      AND min(created_at) < now() - interval '100 days' AS value FROM audit_logs`)).toBe(true);
    const lastWeek = await one<string>(`SELECT count(*) AS value FROM audit_logs
      WHERE created_at > now() - interval '7 days'`);
    expect(Number(lastWeek)).toBeGreaterThanOrEqual(50);
  });

  it('stores typed columns: inet addresses of both families and JSON objects', async () => {
    for (const cidr of ['10.0.0.0/8', '192.0.2.0/24', '2001:db8::/32']) {
      expect(await one<string>(`SELECT count(*) AS value FROM audit_logs WHERE source_ip <<= '${cidr}'`)).not.toBe('0');
    }
    expect(await one<string>(`SELECT count(*) AS value FROM audit_logs
      WHERE (operation = 'CREATE' AND (before IS NOT NULL OR jsonb_typeof(after) <> 'object'))
         OR (operation = 'DELETE' AND (after IS NOT NULL OR jsonb_typeof(before) <> 'object'))`)).toBe('0');
  });

  it('has the indexes from examples/schema.sql', async () => {
    const { rows } = await client!.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_logs' ORDER BY indexname`,
    );
    const defs = rows.map((r) => r.indexdef.replace(/^.* USING /, ''));
    expect(defs).toEqual(expect.arrayContaining([
      'btree (created_at, id)',
      'btree (operator, created_at, id)',
      'btree (lower(operation), created_at, id)',
      'btree (resource_type, resource_id, created_at)',
      'gist (source_ip inet_ops)',
      'btree (source, created_at)',
    ]));
    expect(rows).toHaveLength(7);
  });

  it('accepts several connections at once, as a pool opens them', async () => {
    const pool = new pg.Pool({ connectionString: demo!.url, max: 4 });
    try {
      const counts = await Promise.all(
        ['route', 'service', 'ssl', 'consumer'].map(async (type) => {
          const { rows } = await pool.query<{ n: string }>(
            'SELECT count(*) AS n FROM audit_logs WHERE resource_type = $1', [type]);
          return Number(rows[0]?.n);
        }),
      );
      expect(counts.every((n) => n > 0)).toBe(true);
      expect(pool.totalCount).toBeGreaterThan(1);
    } finally {
      await pool.end();
    }
  });

  it('stops, closing the port, and can be stopped twice', async () => {
    await client?.end();
    client = undefined;
    await demo!.stop();
    await demo!.stop();
    const late = new pg.Client({ connectionString: demo!.url, connectionTimeoutMillis: 2000 });
    await expect(late.connect()).rejects.toThrow();
  });
});
