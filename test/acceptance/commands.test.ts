import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { parseCsv } from '../support/csv.js';
import { createDefaultTable, createPartitionedTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';

// Every command and output mode through the built binary (npm run build first): each lazily loaded chunk of the
// bundle (csv, table, diff, archive, partitions) must load and do its job, not only its source under vitest.

const SECRET = 'k3y-auth-S3cret';
const TRICKY = 'quote " comma , newline \n done';
let schema: TestSchema;
let dir: string;
const schemas: TestSchema[] = [];

/** 12 rows a day apart; every third holds a key-auth secret; ids in insertion order (newest first). */
const SEED: SeedRow[] = Array.from({ length: 12 }, (_, i) => ({
  age: `${i} days 3 hours`,
  operator: i % 2 === 0 ? 'alice@example.com' : 'bob',
  operation: i % 3 === 0 ? 'UPDATE' : 'CREATE',
  resource_type: 'route',
  resource_id: `r-${i}`,
  resource_name: `route ${i}`,
  source_ip: i % 2 === 0 ? '10.0.0.5' : '2001:db8::7',
  source: 'dashboard',
  before: i % 3 === 0 ? { name: `before ${i}`, plugins: { 'key-auth': { key: SECRET } } } : null,
  after: { name: `after ${i}`, desc: TRICKY },
}));
let ids: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-commands-'));
  schema = await createTestSchema('acc_commands');
  await createDefaultTable(schema);
  ids = await insertRows(schema, SEED);
});
afterAll(async () => {
  await Promise.all([schema.drop(), ...schemas.map((s) => s.drop()), rm(dir, { recursive: true, force: true })]);
});

const cli = (args: string[], table = schema.table()) => spawnCli(['--db', databaseUrl(), '--table', table, ...args]);
const ok = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result;
};
const ndjsonIds = (text: string) => text.split('\n').filter(Boolean).map((line) => String((JSON.parse(line) as { id: unknown }).id));
const tableIds = (text: string) => text.split('\n').slice(1).filter(Boolean).map((line) => /^\s*(\d+)\s/.exec(line)?.[1]);

describe('list, each --output and --order', () => {
  const newestFirst = () => [...ids];
  const oldestFirst = () => [...ids].reverse();

  it.each(['desc', 'asc'] as const)('table, json, ndjson and csv list the same entries in the same order (--order %s)', async (order) => {
    const expected = order === 'desc' ? newestFirst() : oldestFirst();
    const table = ok(await cli(['list', '--order', order, '--output', 'table']));
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+TIME \(UTC\)\s+OPERATOR\s+OPERATION\s+RESOURCE\s+SOURCE IP\s+SOURCE/);
    expect(tableIds(table.stdout)).toEqual(expected);
    expect(table.stdout).toContain('2001:db8::7');
    expect(table.stdout).not.toContain('\u001b[');

    const json = ok(await cli(['list', '--order', order, '--output', 'json']));
    const entries = JSON.parse(json.stdout) as { id: string; after: { desc: string }; before: unknown }[];
    expect(entries.map((entry) => entry.id)).toEqual(expected);
    expect(entries[0]?.after.desc).toBe(TRICKY);

    const ndjson = ok(await cli(['list', '--order', order, '--output', 'ndjson']));
    expect(ndjsonIds(ndjson.stdout)).toEqual(expected);

    const csv = ok(await cli(['list', '--order', order, '--output', 'csv']));
    const [header, ...rows] = parseCsv(csv.stdout);
    expect(header).toEqual(['id', 'timestamp', 'operator', 'operation', 'resource_type', 'resource_id', 'resource_name', 'source_ip', 'source', 'before', 'after']);
    expect(rows.map((row) => row[0])).toEqual(expected);
    // A value with a quote, a comma and a newline survives the round trip through a CSV reader.
    expect((JSON.parse(rows[0]?.[10] ?? '') as { desc: string }).desc).toBe(TRICKY);
    for (const result of [table, json, ndjson, csv]) expect(result.stdout).not.toContain(SECRET);
    expect(csv.stdout).toContain('******');
  });

  it('csv pages by --cursor add up to the whole list, the cursor on stderr only', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = ok(await cli(['list', '--output', 'csv', '--limit', '5', ...(cursor ? ['--cursor', cursor] : [])]));
      const [header, ...rows] = parseCsv(result.stdout);
      expect(header?.[0]).toBe('id');
      seen.push(...rows.map((row) => row[0] ?? ''));
      cursor = /--cursor (\S+)/.exec(result.stderr)?.[1];
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(ids);
  });
});

describe('show', () => {
  it('text: the header fields and a unified diff, the secret masked', async () => {
    const id = ids[3] as string;
    const result = ok(await cli(['show', id]));
    expect(result.stdout).toMatch(new RegExp(`^ID:\\s+${id}\\n`));
    expect(result.stdout).toMatch(/Operator:\s+bob/);
    expect(result.stdout).toMatch(/Source IP:\s+2001:db8::7/);
    expect(result.stdout).toContain('--- before\n+++ after\n');
    expect(result.stdout).toContain('-  "name": "before 3",');
    expect(result.stdout).toContain('+  "name": "after 3"\n');
    expect(result.stdout).toContain('******');
    expect(result.stdout).not.toContain(SECRET);
    const shown = ok(await cli(['show', id, '--show-secrets']));
    expect(shown.stdout).toContain(SECRET);
  });

  it('json: the entry and its changes by path, parseable as a whole', async () => {
    const id = ids[3] as string;
    for (const args of [['--json'], ['--output', 'json']]) {
      const result = ok(await cli(['show', id, ...args]));
      const entry = JSON.parse(result.stdout) as { id: string; changes: { path: string; before?: unknown; after?: unknown }[] };
      expect(entry.id).toBe(id);
      expect(entry.changes).toEqual(
        expect.arrayContaining([
          { path: '$.name', before: 'before 3', after: 'after 3' },
          expect.objectContaining({ path: '$.desc', after: TRICKY }),
        ]),
      );
      expect(result.stdout).not.toContain(SECRET);
    }
  });
});

/** A table of its own: 30 entries 100-129 days old, 5 from the last hours. */
async function pruneTable(): Promise<TestSchema> {
  const own = await createTestSchema('acc_prune');
  schemas.push(own);
  await createDefaultTable(own);
  await insertRows(own, Array.from({ length: 30 }, (_, i) => ({ age: `${100 + i} days`, operator: 'old', after: { n: i, password: 'pw-S3cret' } })));
  await insertRows(own, Array.from({ length: 5 }, (_, i) => ({ age: `${i + 1} hours`, operator: 'new' })));
  return own;
}
const count = async (own: TestSchema, where = 'true') =>
  Number((await own.query<{ n: string }>(`select count(*) as n from ${own.table()} where ${where}`)).rows[0]?.n);

describe('prune', () => {
  it('plain: prints the cutoff and what it deleted; only old entries go', async () => {
    const own = await pruneTable();
    const result = ok(await cli(['prune', '--retention-days', '30', '--yes'], own.table()));
    expect(result.stdout).toMatch(/^Cutoff: \S+ \(30 days before now by the database clock; --retention-days\)\n/);
    expect(result.stdout).toContain(`Deleted 30 of 30 entries before the cutoff from ${own.table()}`);
    expect(await count(own)).toBe(5);
    expect(await count(own, `operator = 'new'`)).toBe(5);
  });

  it('--dry-run deletes nothing and says how many would go, as text and as --json', async () => {
    const own = await pruneTable();
    const text = ok(await cli(['prune', '--retention-days', '30', '--dry-run'], own.table()));
    expect(text.stdout).toContain(`Dry run: nothing deleted. 30 entries in ${own.table()} would be deleted`);
    const json = ok(await cli(['prune', '--retention-days', '30', '--dry-run', '--json'], own.table()));
    expect(JSON.parse(json.stdout)).toMatchObject({ dry_run: true, matched: 30, deleted: 0, retention_days: 30, retention_source: 'flag' });
    expect(await count(own)).toBe(35);
  });

  it.each(['archive.ndjson', 'archive.ndjson.gz'])('--archive %s holds exactly the deleted entries, masked', async (name) => {
    const own = await pruneTable();
    const oldIds = (await own.query<{ id: string }>(`select id::text as id from ${own.table()} where operator = 'old' order by created_at, id`)).rows.map((r) => r.id);
    const archive = join(dir, `${own.name}-${name}`);
    const result = ok(await cli(['prune', '--retention-days', '30', '--yes', '--json', '--archive', archive], own.table()));
    expect(JSON.parse(result.stdout)).toMatchObject({ deleted: 30, archived: 30, complete: true });
    const bytes = await readFile(archive);
    const text = (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
    if (name.endsWith('.gz')) expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(new Set(ndjsonIds(text))).toEqual(new Set(oldIds));
    expect(text).not.toContain('pw-S3cret');
    expect(await count(own)).toBe(5);
  });

  it('--max-duration stops cleanly after the batch that crosses it, and a rerun finishes', async () => {
    const own = await pruneTable();
    const stopped = ok(await cli(['prune', '--retention-days', '30', '--yes', '--json', '--batch-size', '1', '--max-duration', '1ms'], own.table()));
    const summary = JSON.parse(stopped.stdout) as { deleted: number; complete: boolean; stopped: string };
    expect(summary).toMatchObject({ complete: false, stopped: 'max-duration' });
    expect(summary.deleted).toBeGreaterThan(0);
    expect(summary.deleted).toBeLessThan(30);
    expect(await count(own)).toBe(35 - summary.deleted);
    const rest = ok(await cli(['prune', '--retention-days', '30', '--yes', '--json'], own.table()));
    expect(JSON.parse(rest.stdout)).toMatchObject({ deleted: 30 - summary.deleted, complete: true });
    expect(await count(own)).toBe(5);
  });

  it('refuses a --max-duration it cannot read, naming it (exit 2), deleting nothing', async () => {
    const own = await pruneTable();
    const result = await cli(['prune', '--retention-days', '30', '--yes', '--max-duration', 'soon'], own.table());
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining(`'soon'`)]);
    expect(await count(own)).toBe(35);
  });
});

describe('prune of a table partitioned by range on its timestamp', () => {
  /** Monthly-ish partitions: p_old wholly before a 60-day cutoff, p_mid straddling it, p_new after it. */
  async function partitioned(): Promise<TestSchema> {
    const own = await createTestSchema('acc_parts');
    schemas.push(own);
    await createPartitionedTable(
      own,
      [
        ['p_old', `now() - interval '200 days'`, `now() - interval '90 days'`],
        ['p_mid', `now() - interval '90 days'`, `now() - interval '30 days'`],
        ['p_new', `now() - interval '30 days'`, `now() + interval '30 days'`],
      ],
      { primaryKey: true },
    );
    const rows = (ages: number[], operator: string) => ages.map((days) => ({ age: `${days} days 2 hours`, operator }));
    await insertRows(own, [...rows([150, 120, 100], 'old'), ...rows([80, 70], 'mid-old'), ...rows([50, 40], 'mid-new'), ...rows([10, 1], 'new')]);
    return own;
  }
  const relation = async (own: TestSchema, name: string) =>
    (await own.query<{ attached: boolean }>(
      `select exists (select 1 from pg_inherits i where i.inhrelid = c.oid) as attached
       from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2`,
      [own.name, name],
    )).rows[0];

  it('drops the partition wholly before the cutoff and deletes row by row in the one that straddles it', async () => {
    const own = await partitioned();
    const result = ok(await cli(['prune', '--retention-days', '60', '--yes', '--json'], own.table()));
    const summary = JSON.parse(result.stdout) as { deleted: number; partitions_dropped: number; partitions_detached: number; complete: boolean };
    expect(summary).toMatchObject({ partitions_dropped: 1, partitions_detached: 0, complete: true });
    expect(await relation(own, 'p_old')).toBeUndefined();
    expect(await relation(own, 'p_mid')).toEqual({ attached: true });
    const left = (await own.query<{ operator: string }>(`select operator from ${own.table()} order by created_at`)).rows.map((r) => r.operator);
    expect(left).toEqual(['mid-new', 'mid-new', 'new', 'new']);
  });

  it('--detach-only keeps the old partition as a table of its own, its rows intact', async () => {
    const own = await partitioned();
    const result = ok(await cli(['prune', '--retention-days', '60', '--yes', '--json', '--detach-only'], own.table()));
    expect(JSON.parse(result.stdout)).toMatchObject({ partitions_dropped: 0, partitions_detached: 1, complete: true });
    expect(await relation(own, 'p_old')).toEqual({ attached: false });
    expect(Number((await own.query<{ n: string }>(`select count(*) as n from ${own.name}.p_old where operator = 'old'`)).rows[0]?.n)).toBe(3);
    const left = (await own.query<{ operator: string }>(`select operator from ${own.table()} order by created_at`)).rows.map((r) => r.operator);
    expect(left).toEqual(['mid-new', 'mid-new', 'new', 'new']);
  });

  it('--dry-run counts the rows a drop would remove and changes nothing', async () => {
    const own = await partitioned();
    const result = ok(await cli(['prune', '--retention-days', '60', '--dry-run', '--json'], own.table()));
    expect(JSON.parse(result.stdout)).toMatchObject({ matched: 5, deleted: 0, dry_run: true });
    expect(await relation(own, 'p_old')).toEqual({ attached: true });
    expect(await count(own)).toBe(9);
  });
});

describe('export --dry-run', () => {
  it('to a file: says how many would go and the first and last, creates no file', async () => {
    const out = join(dir, 'dry.ndjson');
    const result = ok(await cli(['export', '--dry-run', '--out', out]));
    expect(result.stdout + result.stderr).toMatch(new RegExp(`12 entries would be exported to .*; first id ${ids[11]} at \\S+Z, last id ${ids[0]} at \\S+Z\n`));
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it('to a HEC, with --json and --checkpoint: the count, the first and last entry, nothing sent, no checkpoint written', async () => {
    const { server } = await FakeHec.start({ token: 'dry-run-token' });
    const checkpoint = join(dir, 'dry-run-checkpoint.json');
    try {
      const result = ok(await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--dry-run', '--json', '--hec-url', server.url, '--operator', 'bob', '--checkpoint', checkpoint], {
        env: { API7_AUDIT_HEC_TOKEN: 'dry-run-token' },
      }));
      // bob's entries are the odd ones: the oldest is SEED[11], the newest SEED[1].
      expect(JSON.parse(result.stdout)).toMatchObject({ dry_run: true, would_export: 6, first: { id: ids[11], operator: 'bob' }, last: { id: ids[1], operator: 'bob' } });
      expect(result.stdout).not.toContain(SECRET);
      expect(server.requestCount).toBe(0);
      await expect(stat(checkpoint)).rejects.toThrow(/ENOENT/);
    } finally {
      await server.close();
    }
  });
});
