import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import { FakeServer, seededRandom, type FaultOptions } from '../support/fake-server.js';

const ENTRIES = 30_000;
const BATCH = 50;
const CONCURRENCY = 4;
/** The README's promise: a kill -9 resends at most 2 x --concurrency batches. */
const BOUND = 2 * CONCURRENCY * BATCH;
const KILLS = 6;
const TOKEN = 'hec-token';
const faults = (seed: number): FaultOptions => ({ seed, failRate: 0.05, failStatuses: [503, 429] });

let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  schema = await createTestSchema('export_kill');
  await createDefaultTable(schema);
  // Three entries share each timestamp, so batches and checkpoints also fall between entries of equal time.
  await schema.query(
    `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, after)
     select now() - interval '2 hours' + (g / 3) * interval '1 ms', 'user-' || (g % 7), 'update', 'route', 'r-' || g,
            jsonb_build_object('uri', '/r/' || g, 'plugins', jsonb_build_object('limit-count', jsonb_build_object('count', g)))
     from generate_series(1, ${ENTRIES}) g`,
  );
  dir = await mkdtemp(join(tmpdir(), 'api7-export-kill-'));
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

const exportArgs = (url: string, checkpoint: string): string[] => [
  '--db', databaseUrl(), '--table', schema.table(),
  'export', '--hec-url', url, '--checkpoint', checkpoint, '--batch-size', String(BATCH), '--concurrency', String(CONCURRENCY), '--json',
];

/** Runs the binary with `args` and kills it with SIGKILL as soon as `when` holds (polled every 5 ms, for at most 60 s). */
function runAndKill(args: string[], when: () => boolean): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, API7_AUDIT_HEC_TOKEN: TOKEN },
      stdio: 'ignore',
    });
    const started = Date.now();
    let killed = false;
    const poll = setInterval(() => {
      if (when() || Date.now() - started >= 60_000) {
        killed = child.kill('SIGKILL');
        clearInterval(poll);
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ killed, code });
    });
  });
}

/** The position in the checkpoint file, if there is one. */
async function readPosition(file: string): Promise<{ timestamp: string; id: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const data = JSON.parse(text) as { timestamp: string; id: string; position?: { timestamp: string; id: string } };
  return data.position ?? { timestamp: data.timestamp, id: data.id };
}

/** Entries at or before the checkpoint in `file` that the destination does not have (none when there is no file). */
async function missingUpToCheckpoint(file: string, has: (id: string) => boolean): Promise<string[]> {
  const position = await readPosition(file);
  if (!position) return [];
  const covered = await schema.query<{ id: string }>(
    `select id::text from ${schema.table()} where (created_at, id) <= ($1::timestamptz, $2::bigint)`,
    [position.timestamp, position.id],
  );
  return covered.rows.map((row) => row.id).filter((id) => !has(id));
}

describe('export killed with SIGKILL under 503/429 faults and a batch held at 503', () => {
  it(
    `resends at most ${BOUND} entries per kill, loses none, and never checkpoints past what the destination has`,
    async () => {
      const random = seededRandom(20261203);
      const rounds: string[] = [];
      let killedRounds = 0;
      for (let round = 1; round <= KILLS; round += 1) {
        const hec = new FakeHec({ token: TOKEN });
        const checkpoint = join(dir, `round-${round}.json`);
        // One batch (request `stallRequest` and its resends) answers 503 for 3-5 s while the others go on.
        const stallRequest = 2 + Math.floor(random() * 60);
        const first = await new FakeServer(hec, { ...faults(round), stallRequest, stallMs: 3000 + Math.floor(random() * 2000) }).start();
        // Odd rounds are killed while that batch is held, 0.3-2.8 s into it; even ones after 1-560 requests of ~630.
        const killAfterRequests = 1 + Math.floor(random() * 560);
        const killIntoStallMs = 300 + Math.floor(random() * 2500);
        let stallSeenAt: number | undefined;
        const when = (): boolean => {
          if (round % 2 === 0) return first.requestCount >= killAfterRequests;
          if (first.faults.stalled > 0) stallSeenAt ??= Date.now();
          return stallSeenAt !== undefined && Date.now() - stallSeenAt >= killIntoStallMs;
        };
        let outcome;
        try {
          outcome = await runAndKill(exportArgs(first.url, checkpoint), when);
        } finally {
          await first.close();
        }
        if (outcome.killed) killedRounds += 1;

        const position = await readPosition(checkpoint);
        const missing = await missingUpToCheckpoint(checkpoint, (id) => hec.ids.has(id));
        expect(missing.slice(0, 5), `round ${round}: the checkpoint is past entries the destination never got`).toEqual([]);

        const sentBeforeRerun = hec.ids.ids.length;
        const duplicatesBefore = hec.ids.duplicates;
        const second = await new FakeServer(hec, faults(100 + round)).start();
        try {
          const rerun = await spawnCli(exportArgs(second.url, checkpoint), { env: { API7_AUDIT_HEC_TOKEN: TOKEN }, timeoutMs: 120_000 });
          expect(rerun.code, rerun.stderr).toBe(0);
        } finally {
          await second.close();
        }
        const resent = hec.ids.duplicates - duplicatesBefore;
        rounds.push(`round ${round}: killed=${outcome.killed} after ${sentBeforeRerun} entries, checkpoint ${position?.id ?? 'none'}, resent ${resent}`);
        expect(hec.ids.unique, `round ${round}: every entry reaches the destination`).toBe(ENTRIES);
        expect(resent, `round ${round}: duplicates after one kill`).toBeLessThanOrEqual(BOUND);
      }
      expect(killedRounds, rounds.join('\n')).toBe(KILLS);
      if (process.env.API7_AUDIT_TEST_VERBOSE) process.stderr.write(`${rounds.join('\n')}\n`);
    },
    300_000,
  );

  it(`holds for --out too: at most ${BOUND} entries written again per kill, none missing`, async () => {
    const random = seededRandom(31);
    const out = join(dir, 'out.ndjson');
    const checkpoint = join(dir, 'file.json');
    const args = ['--db', databaseUrl(), '--table', schema.table(), 'export', '--out', out, '--checkpoint', checkpoint, '--batch-size', String(BATCH), '--concurrency', String(CONCURRENCY)];
    const size = async (): Promise<number> => (await stat(out).catch(() => ({ size: 0 }))).size;
    /** Entry ids in the file; a torn last line (the next run cuts it) is left out. */
    const ids = async (): Promise<string[]> => {
      const lines = (await readFile(out, 'utf8').catch(() => '')).split('\n');
      return lines.flatMap((line, i) => {
        try {
          return [String((JSON.parse(line) as { id: unknown }).id)];
        } catch (error) {
          if (error instanceof SyntaxError && i >= lines.length - 2) return [];
          throw error;
        }
      });
    };
    const duplicates = (list: string[]): number => list.length - new Set(list).size;
    const perKill: number[] = [];
    let before = 0;
    for (let kill = 1; kill <= 3; kill += 1) {
      const start = await size();
      // 20 KB-2 MB more of the ~8 MB file: SIGKILL from within the first batches to deep into the run.
      const grow = 20_000 + Math.floor(random() * 2_000_000);
      let current = start;
      const poll = setInterval(() => void size().then((n) => (current = n)), 2);
      const outcome = await runAndKill(args, () => current - start >= grow).finally(() => clearInterval(poll));
      expect(outcome.killed, `kill ${kill}`).toBe(true);
      const written = await ids();
      const inFile = new Set(written);
      expect((await missingUpToCheckpoint(checkpoint, (id) => inFile.has(id))).slice(0, 5), `kill ${kill}: checkpoint past the file`).toEqual([]);
      const after = duplicates(written);
      if (kill > 1) perKill.push(after - before);
      before = after;
    }
    const rerun = await spawnCli(args, { timeoutMs: 120_000 });
    expect(rerun.code, rerun.stderr).toBe(0);
    const all = await ids();
    perKill.push(duplicates(all) - before);
    expect(new Set(all).size).toBe(ENTRIES);
    for (const again of perKill) expect(again).toBeLessThanOrEqual(BOUND);
    if (process.env.API7_AUDIT_TEST_VERBOSE) process.stderr.write(`--out: entries written again per kill ${perKill.join(', ')}\n`);
  }, 120_000);
});
