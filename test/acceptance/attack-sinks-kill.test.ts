import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeServer, seededRandom, type FaultOptions, type IdLog, type Protocol } from '../support/fake-server.js';
import { waitFor } from '../support/wait.js';

// export-kill.test.ts kills HEC exports; this kills Elasticsearch and Datadog ones, under their own faults
// (bulk items refused with 429, replies lost after the intake stored the batch), and counts at the receiver what
// each rerun sends again. The README's bound: a kill -9 makes the next run resend at most 2 x --concurrency x
// batch size entries; the rerun (on a destination that stores each request once) sends each entry at most once.

const ENTRIES = 12_000;
const BATCH = 50;
const CONCURRENCY = 4;
const BOUND = 2 * CONCURRENCY * BATCH;
const ROUNDS = 4;
const ES_KEY = 'es-K3y-kill';
const DD_KEY = 'dd-K3y-kill';

let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  schema = await createTestSchema('attack_sinks_kill');
  await createDefaultTable(schema);
  await schema.query(
    `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, after)
     select now() - interval '2 hours' + (g / 3) * interval '1 ms', 'user-' || (g % 7), 'update', 'route', 'r-' || g,
            jsonb_build_object('uri', '/r/' || g)
     from generate_series(1, ${ENTRIES}) g`,
  );
  dir = await mkdtemp(join(tmpdir(), 'api7-attack-sinks-kill-'));
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

interface Destination {
  protocol: Protocol;
  /** Every entry received, a resend included. */
  received: IdLog;
  flag: string;
  env: NodeJS.ProcessEnv;
}
/** The faults of a killed run: 503/429, and replies lost after the destination stored the request. */
const killedFaults = (seed: number): FaultOptions => ({ seed, failRate: 0.05, failStatuses: [503, 429], dropRate: 0.03, dropAfterStore: true });
/** The rerun's: throttled, but a request is stored once or not at all. */
const rerunFaults = (seed: number): FaultOptions => ({ seed, failRate: 0.05, failStatuses: [503, 429] });

const destinations: [string, () => Destination][] = [
  ['Elasticsearch', () => {
    const es = new FakeElastic({ apiKey: ES_KEY, itemRejectRate: 0.005 });
    return { protocol: es, received: es.received, flag: '--elastic-url', env: { API7_AUDIT_ELASTIC_API_KEY: ES_KEY } };
  }],
  ['Datadog', () => {
    const dd = new FakeDatadog({ apiKey: DD_KEY });
    return { protocol: dd, received: dd.ids, flag: '--datadog-url', env: { DD_API_KEY: DD_KEY } };
  }],
];

async function checkpointId(file: string): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const data = JSON.parse(text) as { id?: string; position?: { id: string; timestamp: string } };
  return data.position?.id ?? data.id;
}

/** Entries at or before the checkpoint the destination never received. */
async function missingUpTo(file: string, received: IdLog): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return [];
  const data = JSON.parse(text) as { id: string; timestamp: string; position?: { id: string; timestamp: string } };
  const at = data.position ?? data;
  const rows = await schema.query<{ id: string }>(
    `select id::text from ${schema.table()} where (created_at, id) <= ($1::timestamptz, $2::bigint)`,
    [at.timestamp, at.id],
  );
  return rows.rows.map((row) => row.id).filter((id) => !received.has(id));
}

describe('Elasticsearch and Datadog exports killed with SIGKILL under faults, resumed with --checkpoint', () => {
  it.each(destinations)(`%s: each rerun resends at most ${BOUND} entries, each at most once, and none is missing`, async (name, make) => {
    const random = seededRandom(name.length * 7919);
    const report: string[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      const destination = make();
      const checkpoint = join(dir, `${name}-${round}.json`);
      const args = ['--db', databaseUrl(), '--table', schema.table(), 'export', '--checkpoint', checkpoint,
        '--batch-size', String(BATCH), '--concurrency', String(CONCURRENCY), '--json'];
      const killAfter = 1 + Math.floor(random() * 200); // of about 260 requests
      const first = await new FakeServer(destination.protocol, killedFaults(round)).start();
      try {
        const running = startCli([...args, destination.flag, first.url], { env: destination.env, timeoutMs: 60_000 });
        await waitFor(() => first.requestCount >= killAfter || running.exited(), 60_000, `request ${killAfter}`);
        expect(running.exited(), `round ${round}: still running at request ${killAfter}`).toBe(false);
        running.child.kill('SIGKILL');
        await running.result;
      } finally {
        await first.close();
      }
      expect((await missingUpTo(checkpoint, destination.received)).slice(0, 5), `round ${round}: checkpoint past the destination`).toEqual([]);
      const saved = (await checkpointId(checkpoint)) ?? 'none';

      const before = new Set(destination.received.ids);
      const countBefore = destination.received.ids.length;
      const second = await new FakeServer(destination.protocol, rerunFaults(100 + round)).start();
      try {
        const rerun = await spawnCli([...args, destination.flag, second.url], { env: destination.env, timeoutMs: 120_000 });
        expect(rerun.code, rerun.stderr).toBe(0);
      } finally {
        await second.close();
      }
      const sentByRerun = destination.received.ids.slice(countBefore);
      const resent = sentByRerun.filter((id) => before.has(id)).length;
      report.push(`round ${round}: killed at request ${killAfter}, checkpoint at id ${saved}, ${before.size} received before, resent ${resent}`);
      expect(new Set(destination.received.ids).size, `round ${round}: every entry received`).toBe(ENTRIES);
      expect(sentByRerun.length - new Set(sentByRerun).size, `round ${round}: an entry sent twice by the rerun`).toBe(0);
      expect(resent, `round ${round}: resent after one kill\n${report.join('\n')}`).toBeLessThanOrEqual(BOUND);
    }
    if (process.env.API7_AUDIT_TEST_VERBOSE) process.stderr.write(`${name}\n${report.join('\n')}\n`);
  }, 300_000);
});
