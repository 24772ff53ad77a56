import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';

// One entry too large for the destination must not stop the export for ever: the entries after it all arrive, it
// arrives reduced (each large state replaced by a marker with its size and SHA-256), is counted in the summary, and
// is kept whole, masked, in --rejects.

let schema: TestSchema;
let dir: string;
let tables = 0;

beforeAll(async () => {
  schema = await createTestSchema('oversize');
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-oversize-'));
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

interface Seeded {
  table: string;
  ids: string[];
  /** The id of the large entry without secrets, and of the one with a secret in its large state. */
  big: string;
  secret: string;
  /** The large entry's `after` as the server writes it (jsonb text). */
  bigAfterText: string;
}

/** 30 small entries, with two of `bigBytes` (about) at positions 5 and 20: one plain, one holding a password. */
async function seed(bigBytes: number): Promise<Seeded> {
  const name = `audit_logs_${(tables += 1)}`;
  await createDefaultTable(schema);
  await schema.query(`alter table ${schema.table()} rename to ${name}`);
  const filler = 'é東x'.repeat(Math.ceil(bigBytes / 6));
  const rows: SeedRow[] = Array.from({ length: 30 }, (_, i) => ({
    age: `${40 - i} minutes`,
    operator: 'alice',
    operation: 'update',
    resource_type: i === 20 ? 'consumer' : 'route',
    resource_id: `r-${i}`,
    before: { n: i },
    after: i === 5 ? { blob: filler, n: i } : i === 20 ? { password: 'hunter2-secret', blob: filler } : { n: i, small: true },
  }));
  const ids = await insertRows(schema, rows, name);
  const big = ids[5] as string;
  const text = await schema.query<{ after: string }>(`select after::text as after from ${schema.name}.${name} where id = $1`, [big]);
  return { table: `${schema.name}.${name}`, ids, big, secret: ids[20] as string, bigAfterText: text.rows[0]?.after ?? '' };
}

const db = (table: string) => ['--db', databaseUrl(), '--table', table];

interface Summary {
  exported: number;
  reduced: number;
}

/** The entry as the destination stored it, for each destination's envelope. */
type Stored = Map<string, { id: string; before: unknown; after: unknown }>;

async function expectReducedDelivery(seeded: Seeded, stored: Stored, result: { code: number; stdout: string; stderr: string }, rejects: string): Promise<void> {
  expect(result.code, result.stderr).toBe(0);
  const summary = JSON.parse(result.stdout) as Summary;
  expect(summary).toMatchObject({ exported: seeded.ids.length, reduced: 2 });
  expect([...stored.keys()].sort()).toEqual([...seeded.ids].sort());
  // The reduced entry: small states kept, the large one a marker of the text as it stood in the entry.
  const big = stored.get(seeded.big);
  expect(big?.before).toEqual({ n: 5 });
  expect(big?.after).toEqual({
    $api7_audit: 'omitted',
    reason: 'too_large',
    bytes: Buffer.byteLength(seeded.bigAfterText),
    sha256: createHash('sha256').update(seeded.bigAfterText).digest('hex'),
  });
  expect(stored.get(seeded.secret)?.after).toMatchObject({ $api7_audit: 'omitted', reason: 'too_large' });
  // The others as they are.
  expect(stored.get(seeded.ids[6] as string)?.after).toEqual({ n: 6, small: true });
  // --rejects: the two entries whole, masked, once each, in a private file.
  const lines = (await readFile(rejects, 'utf8')).split('\n').filter(Boolean);
  const kept = lines.map((line) => JSON.parse(line) as { id: string; after: { blob: string; password?: string } });
  expect(kept.map((entry) => entry.id).sort()).toEqual([seeded.big, seeded.secret].sort());
  const whole = kept.find((entry) => entry.id === seeded.big);
  expect(whole?.after).toEqual(JSON.parse(seeded.bigAfterText));
  expect(kept.find((entry) => entry.id === seeded.secret)?.after.password).toBe('******');
  expect(lines.join('\n')).not.toContain('hunter2');
  expect((await stat(rejects)).mode & 0o777).toBe(0o600);
  for (const id of [seeded.big, seeded.secret]) expect(result.stderr).toContain(`warning: entry id ${id} is too large for the destination`);
}

describe('an entry too large for the destination', () => {
  it('Splunk HEC: a 413 splits the batch, the entry that still gets 413 goes reduced, every later entry arrives', async () => {
    const seeded = await seed(300_000);
    const { server, hec } = await FakeHec.start({ maxBodyBytes: 120_000 });
    try {
      const rejects = join(dir, 'hec-rejects.ndjson');
      const result = await spawnCli([...db(seeded.table), 'export', '--hec-url', server.url, '--rejects', rejects, '--json'], { env: { API7_AUDIT_HEC_TOKEN: 'hec-token' } });
      const stored: Stored = new Map(hec.events.map((event) => {
        const entry = event.event as { id: string; before: unknown; after: unknown };
        return [entry.id, entry];
      }));
      await expectReducedDelivery(seeded, stored, result, rejects);
    } finally {
      await server.close();
    }
  });

  it('Elasticsearch: the same through _bulk, with --batch-size 1', async () => {
    const seeded = await seed(300_000);
    const { server, es } = await FakeElastic.start({ maxBodyBytes: 120_000 });
    try {
      const rejects = join(dir, 'es-rejects.ndjson');
      const result = await spawnCli([...db(seeded.table), 'export', '--elastic-url', server.url, '--batch-size', '1', '--rejects', rejects, '--json'], {
        env: { API7_AUDIT_ELASTIC_API_KEY: 'es-key' },
      });
      const stored: Stored = new Map([...es.docs.values()].map((doc) => [String(doc.id), doc as { id: string; before: unknown; after: unknown }]));
      await expectReducedDelivery(seeded, stored, result, rejects);
    } finally {
      await server.close();
    }
  });

  it('Datadog: a log over 1 MB goes reduced; no log the intake received is over 1 MB', async () => {
    const seeded = await seed(1_200_000);
    const { server, dd } = await FakeDatadog.start();
    try {
      const rejects = join(dir, 'dd-rejects.ndjson');
      const result = await spawnCli([...db(seeded.table), 'export', '--datadog-url', server.url, '--rejects', rejects, '--json'], { env: { DD_API_KEY: 'dd-key' } });
      const stored: Stored = new Map(dd.logs.map((log) => {
        const entry = log.audit as { id: string; before: unknown; after: unknown };
        return [entry.id, entry];
      }));
      await expectReducedDelivery(seeded, stored, result, rejects);
      for (const log of dd.logs) expect(Buffer.byteLength(JSON.stringify(log))).toBeLessThan(1_000_000);
    } finally {
      await server.close();
    }
  });

  it('without --rejects, the entry still goes reduced, the summary says so, and the warning says how to keep it', async () => {
    const seeded = await seed(300_000);
    const { server, hec } = await FakeHec.start({ maxBodyBytes: 120_000 });
    try {
      const result = await spawnCli([...db(seeded.table), 'export', '--hec-url', server.url], { env: { API7_AUDIT_HEC_TOKEN: 'hec-token' } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`exported ${seeded.ids.length} entries`);
      expect(result.stderr).toContain('2 sent reduced (too large for the destination)');
      expect(result.stderr).toContain('give --rejects FILE to keep it whole');
      expect(hec.ids.unique).toBe(seeded.ids.length);
    } finally {
      await server.close();
    }
  });

  it('a reduced entry the destination still refuses stops the run with one line naming it', async () => {
    const seeded = await seed(300_000);
    let server: FakeServer | undefined;
    try {
      let hec: FakeHec;
      ({ server, hec } = await FakeHec.start({ maxBodyBytes: 200 }));
      const result = await spawnCli([...db(seeded.table), 'export', '--hec-url', server.url], { env: { API7_AUDIT_HEC_TOKEN: 'hec-token' } });
      expect(result.code).toBe(1);
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('error:'));
      expect(errors).toEqual([expect.stringMatching(new RegExp(`^error: .*Splunk HEC refused entry id ${seeded.ids[0]} as too large even reduced`))]);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(hec.ids.unique).toBe(0);
    } finally {
      await server?.close();
    }
  });

  it('--rejects with --out is a usage error', async () => {
    const result = await spawnCli(['--db', databaseUrl(), 'export', '--out', join(dir, 'x.ndjson'), '--rejects', join(dir, 'r.ndjson')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--rejects is for HTTP destinations');
  });
});
