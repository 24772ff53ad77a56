import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { FakeHec } from '../support/fake-hec.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { spawnInPty } from '../support/pty.js';

// Export's progress line on a real terminal carries the planner's estimate of the run's entries ("of ~N") and an
// ETA; off a terminal nothing of it, and the estimate never stands in for the count. The HEC answers each batch
// after SLOW_MS so that the line is drawn many times while the run lasts.

const ROWS = 20_000;
const ALICE = 5_000;
const SLOW_MS = 120;
let schema: TestSchema;

beforeAll(async () => {
  schema = await createTestSchema('acc_export_progress');
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
  await schema.drop();
});

const db = () => ['--db', databaseUrl(), '--table', schema.table()];
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
});
