import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { FakeHec } from '../support/fake-hec.js';
import { createDefaultTable, createTestDatabase, createTestSchema, isEmbedded, type TestSchema } from '../support/database.js';
import { spawnInPty } from '../support/pty.js';

// Export's progress line on a real terminal carries the planner's estimate of the run's entries ("of ~N") and an
// ETA; off a terminal nothing of it, and the estimate never stands in for the count. The HEC answers each batch
// after SLOW_MS so that the line is drawn many times while the run lasts.

const ROWS = 20_000;
const ALICE = 5_000;
const SLOW_MS = 120;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let schema: TestSchema;

beforeAll(async () => {
  // A database of its own: one test holds a lock in an open transaction for seconds.
  database = await createTestDatabase('export_progress');
  schema = await createTestSchema('acc_export_progress', database.url);
  await createDefaultTable(schema);
  // Every fourth entry is alice's; all are hours old, well behind any settle window or open transaction.
  await schema.query(
    `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, source_ip, source)
     select now() - interval '3 hours' + g * interval '100 ms', case when g % 4 = 0 then 'alice' else 'bob' end,
            'UPDATE', 'route', 'r-' || g, '10.0.0.1', 'dashboard'
     from generate_series(1, ${ROWS}) g`,
  );
  // What autovacuum does after such a load; without statistics the planner guesses a third for a range.
  await schema.query(`analyze ${schema.table()}`);
});
afterAll(async () => {
  await schema?.drop();
  await database?.drop();
});

const db = () => ['--db', database.url, '--table', schema.table()];
const TOKEN = 'progress-hec-token';
const exportArgs = (url: string, extra: string[] = []) => [...db(), 'export', '--hec-url', url, '--concurrency', '1', '--batch-size', '500', ...extra];

/** The progress line showed a total at least once, and every total it showed is within a factor 3 of `rows`. */
function expectTotalsNear(output: string, rows: number): void {
  const totals = [...output.matchAll(/[\d,]+ of ~([\d,]+) entries sent \([\d,]+\/s\)/g)].map((m) => Number((m[1] ?? '').replace(/,/g, '')));
  expect(totals.length, output).toBeGreaterThan(0);
  for (const total of totals) {
    expect(total).toBeGreaterThan(rows / 3);
    expect(total).toBeLessThan(rows * 3);
  }
}

/** Polls `check` every 50 ms for up to 20 s; whether it came true. */
async function waitUntil(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

describe('export progress with an estimated total', () => {
  it('on a terminal, the line says "N of ~TOTAL entries sent (R/s), ETA ..." with TOTAL near the rows, and the summary stays exact', async () => {
    const { server, hec } = await FakeHec.start({ token: TOKEN, slowRate: 1, slowMs: SLOW_MS });
    try {
      const result = await spawnInPty(exportArgs(server.url), { env: { API7_AUDIT_HEC_TOKEN: TOKEN }, timeoutMs: 120_000 });
      expect(result.code, result.output).toBe(0);
      expectTotalsNear(result.output, ROWS);
      expect(result.output).toMatch(/of ~[\d,]+ entries sent \([\d,]+\/s\), ETA (\d+s|\d+m\d\ds|\d+h\d\dm), \d+ retr/);
      expect(result.output).toMatch(new RegExp(`exported ${ROWS.toLocaleString('en-US')} entries to`));
      expect(hec.ids.unique).toBe(ROWS);
    } finally {
      await server.close();
    }
  });

  it("the estimate is of the run's own selection: with --operator alice it is near alice's entries, not the table's", async () => {
    const { server } = await FakeHec.start({ token: TOKEN, slowRate: 1, slowMs: SLOW_MS });
    try {
      const result = await spawnInPty(exportArgs(server.url, ['--operator', 'alice']), { env: { API7_AUDIT_HEC_TOKEN: TOKEN }, timeoutMs: 120_000 });
      expect(result.code, result.output).toBe(0);
      expectTotalsNear(result.output, ALICE);
      expect(result.output).toMatch(new RegExp(`exported ${ALICE.toLocaleString('en-US')} entries to`));
    } finally {
      await server.close();
    }
  });

  it('off a terminal stderr carries the exact summary alone: no estimate, no ETA, no progress line', async () => {
    const { server } = await FakeHec.start({ token: TOKEN });
    try {
      const result = await spawnCli(exportArgs(server.url), { env: { API7_AUDIT_HEC_TOKEN: TOKEN } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toContain('~');
      expect(result.stderr).not.toContain('ETA');
      expect(result.stderr).not.toContain('Exporting to');
      expect(result.stderr).toMatch(new RegExp(`^exported ${ROWS.toLocaleString('en-US')} entries to [^\\n]*\\n$`));
    } finally {
      await server.close();
    }
  });

  it.skipIf(isEmbedded())('when the estimate cannot be had (the table locked past its 1 s timeout), the line keeps its count without a total and the run is not held back by it', async () => {
    const { server } = await FakeHec.start({ token: TOKEN, slowRate: 1, slowMs: SLOW_MS });
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query(`lock table ${schema.table()} in access exclusive mode`);
      const run = spawnInPty(exportArgs(server.url, ['--operator', 'alice']), { env: { API7_AUDIT_HEC_TOKEN: TOKEN }, timeoutMs: 120_000 });
      // The lock is released once the estimate gave up waiting for it, while the export's own read still waits.
      const explaining = async () =>
        // Asked on another connection: inside the locker's transaction pg_stat_activity is a snapshot.
        Number((await schema.query<{ n: string }>(`select count(*) as n from pg_stat_activity where query ilike 'explain%' and wait_event_type = 'Lock'`)).rows[0]?.n);
      expect(await waitUntil(async () => (await explaining()) > 0), 'the estimate never waited for the lock').toBe(true);
      expect(await waitUntil(async () => (await explaining()) === 0), 'the estimate outlived its statement_timeout').toBe(true);
      await locker.query('rollback');
      const result = await run;
      expect(result.code, result.output).toBe(0);
      expect(result.output).toMatch(/Exporting to Splunk HEC: [\d,]+ entries sent \([\d,]+\/s\), \d+ retr/);
      expect(result.output).not.toContain('of ~');
      expect(result.output).not.toContain('ETA');
      expect(result.output).not.toMatch(/error|canceling statement|timeout/i);
      expect(result.output).toMatch(new RegExp(`exported ${ALICE.toLocaleString('en-US')} entries to`));
    } finally {
      await locker.end();
      await server.close();
    }
  });
});
