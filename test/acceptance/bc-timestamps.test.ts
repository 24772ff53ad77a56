import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

// Timestamps before year 1 (and after 9999) through the built binary (npm run build first), against what PostgreSQL
// says of each. to_char's YYYY printed 44 BC as `0044`: list, show and export gave a BC entry as the AD year of the
// same number, and its position read back as that AD year. Every path now prints ISO 8601's expanded year, BC years
// counted astronomically (`-000043-03-15T12:00:00.500000Z` is 44 BC, `0000` is 1 BC), which JavaScript's Date reads.

let schema: TestSchema;
let dir = '';

const TIMES = [
  '4713-11-24 00:00:00.125+00 BC', // PostgreSQL's first day
  '0044-03-15 12:00:00.5+00 BC',
  '0001-12-31 23:59:59.999+00 BC', // 1 BC: year 0000; in Asia/Tokyo already 1 AD
  '0001-01-01 00:00:00+00',
  '0001-01-01 00:00:01+00',
  '1999-12-31 23:59:59+00',
  '9999-12-31 20:00:00+00', // in Asia/Tokyo, year 10000
  '12026-01-01 00:00:00+00',
];
const ZONES = ['Etc/GMT-9', 'Asia/Tokyo', 'America/New_York'];

interface Truth {
  id: string;
  /** PostgreSQL's own text of the UTC time, its era apart. */
  utc: string;
  bc: boolean;
  epochMs: number;
  local: Record<string, { text: string; bc: boolean }>;
}

/** `YYYY...-MM-DD<sep>...` of PostgreSQL with its era, as ISO 8601 with an expanded year (astronomical for BC). */
function expanded(text: string, bc: boolean): string {
  const [, digits = '', rest = ''] = /^(\d+)(-.*)$/.exec(text) ?? [];
  const year = bc ? 1 - Number(digits) : Number(digits);
  if (year >= 1 && year <= 9999) return `${digits}${rest}`;
  return `${year === 0 ? '0000' : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`}${rest}`;
}

async function truthOf(of: TestSchema): Promise<Truth[]> {
  const zoneColumns = ZONES.map((zone, n) =>
    `to_char(created_at at time zone '${zone}', 'YYYY-MM-DD HH24:MI:SS') as local${n}, (created_at at time zone '${zone}') < '0001-01-01' as local_bc${n}`).join(', ');
  const { rows } = await of.query<Record<string, string | boolean>>(`select id::text as id,
      to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as utc, created_at < '0001-01-01 00:00:00+00' as bc,
      round(extract(epoch from created_at) * 1000)::text as epoch_ms, ${zoneColumns}
    from ${of.table()} order by created_at, id`);
  return rows.map((row) => ({
    id: row.id as string,
    utc: row.utc as string,
    bc: row.bc as boolean,
    epochMs: Number(row.epoch_ms),
    local: Object.fromEntries(ZONES.map((zone, n) => [zone, { text: row[`local${n}`] as string, bc: row[`local_bc${n}`] as boolean }])),
  }));
}

const truth = () => truthOf(schema);
const iso = (row: Truth) => expanded(row.utc, row.bc);
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env });

beforeAll(async () => {
  schema = await createTestSchema('bc_time');
  await createDefaultTable(schema);
  for (const [n, time] of TIMES.entries()) {
    await schema.query(`insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id) values ($1, $2, 'update', 'route', $3)`, [time, `op${n}`, `r${n}`]);
  }
  dir = await mkdtemp(join(tmpdir(), 'bc-timestamps-'));
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

const byId = (pairs: [string, string][]) => Object.fromEntries(pairs);
const expectedById = (rows: Truth[], text: (row: Truth) => string) => Object.fromEntries(rows.map((row) => [row.id, text(row)]));

describe('a timestamp before year 1 or after 9999', () => {
  it('list -o json, ndjson and csv print the expanded ISO year that Date reads as the same instant', async () => {
    const rows = await truth();
    expect(rows.filter((row) => row.bc)).toHaveLength(3);
    const json = await cli(['list', '--all', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const entries = JSON.parse(json.stdout) as { id: string; timestamp: string }[];
    expect(byId(entries.map((entry) => [entry.id, entry.timestamp]))).toEqual(expectedById(rows, iso));
    // What a JSON reader gets from it: the instant PostgreSQL holds, to the millisecond.
    for (const entry of entries) expect(Date.parse(entry.timestamp), entry.timestamp).toBe(rows.find((row) => row.id === entry.id)?.epochMs);
    expect(entries.find((entry) => entry.timestamp.startsWith('-000043-03-15T12:00:00.500000Z'))).toBeDefined();

    const ndjson = await cli(['list', '--all', '-o', 'ndjson']);
    expect(ndjson.code, ndjson.stderr).toBe(0);
    const lines = ndjson.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; timestamp: string });
    expect(byId(lines.map((entry) => [entry.id, entry.timestamp]))).toEqual(expectedById(rows, iso));

    const csv = await cli(['list', '--all', '-o', 'csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const records = csv.stdout.trim().split('\n').slice(1).map((line) => line.split(',').slice(0, 2) as [string, string]);
    expect(byId(records)).toEqual(expectedById(rows, iso));
  });

  it('the table prints the same year, in UTC and in a zone (Intl alone names 44 BC year 44)', async () => {
    const rows = await truth();
    const tableTimes = (stdout: string) =>
      byId(stdout.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/)).map((cells) => [cells[0] ?? '', `${cells[1]} ${cells[2]}`]));
    const utc = await cli(['list', '--all']);
    expect(utc.code, utc.stderr).toBe(0);
    expect(tableTimes(utc.stdout)).toEqual(expectedById(rows, (row) => iso(row).slice(0, -8).replace('T', ' ')));
    for (const zone of ZONES) {
      const local = await cli(['list', '--all'], { API7_AUDIT_TZ: zone });
      expect(local.code, local.stderr).toBe(0);
      expect(local.stdout.split('\n')[0]).toContain(`TIME (${zone})`);
      expect(tableTimes(local.stdout), zone).toEqual(expectedById(rows, (row) => expanded(row.local[zone]?.text ?? '', row.local[zone]?.bc ?? false)));
    }
  });

  it('show, as text and JSON, prints it', async () => {
    for (const row of (await truth()).filter((each) => each.bc)) {
      const text = await cli(['show', row.id]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`\nTime:      ${iso(row)}\n`);
      const json = await cli(['show', row.id, '-o', 'json']);
      expect((JSON.parse(json.stdout) as { timestamp: string }).timestamp).toBe(iso(row));
    }
  });

  it("stats' first change ever prints it (--since 0000-01-01, 1 BC, takes in 1 BC's last second)", async () => {
    const rows = await truth();
    const result = await cli(['stats', '--since', '0000-01-01', '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const firsts = (JSON.parse(result.stdout) as { unusual: { first_changes: { operator: string; first: string }[] } }).unusual.first_changes;
    // Each operator has one entry (op0 at 4713 BC, op1 at 44 BC: before the window).
    expect(Object.fromEntries(firsts.map((change) => [change.operator, change.first]))).toEqual(
      Object.fromEntries(rows.slice(2).map((row, n) => [`op${n + 2}`, iso(row)])),
    );
    expect(firsts.find((change) => change.operator === 'op2')?.first).toBe('0000-12-31T23:59:59.999000Z');
  });

  it('doctor names the oldest entry by it', async () => {
    const oldest = (await truth())[0] as Truth;
    const result = await cli(['doctor']);
    expect(result.stdout + result.stderr).toContain(`oldest entry ${iso(oldest)} is older than the retention`);
    expect(iso(oldest)).toBe('-004712-11-24T00:00:00.125000Z');
  });

  it('pages continue after a BC position: each entry once, in PostgreSQL order, both ways', async () => {
    const rows = await truth();
    for (const order of ['asc', 'desc'] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < rows.length + 2; page += 1) {
        const result = await cli(['list', '--order', order, '--limit', '2', '-o', 'ndjson', ...(cursor ? ['--cursor', cursor] : [])]);
        expect(result.code, result.stderr).toBe(0);
        seen.push(...result.stdout.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id));
        cursor = /--cursor (\S+)/.exec(result.stderr)?.[1];
        if (!cursor) break;
      }
      const ids = rows.map((row) => row.id);
      expect(seen, order).toEqual(order === 'asc' ? ids : ids.reverse());
    }
  });

  it.each([['a plain table', false], ['a partition from MINVALUE, archived then dropped', true]] as const)(
    'prune --archive in batches of 2 across BC entries, %s: every entry archived once, none left',
    async (_kind, partitioned) => {
      const own = await createTestSchema('bc_time_prune');
      try {
        const t = own.table();
        const columns = 'created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb';
        if (partitioned) {
          await own.query(`create table ${t} (id bigserial, ${columns}) partition by range (created_at)`);
          await own.query(`create table ${own.name}.old partition of ${t} for values from (minvalue) to ('2000-06-01')`);
          await own.query(`create table ${own.name}.recent partition of ${t} for values from ('2000-06-01') to (maxvalue)`);
        } else {
          await own.query(`create table ${t} (id bigserial primary key, ${columns})`);
        }
        await own.query(`create index on ${t} (created_at, id)`);
        for (const time of [...TIMES.slice(0, 6), '0100-01-01 BC', '0010-01-01 BC', '0050-01-01']) {
          await own.query(`insert into ${t} (created_at, operator) values ($1, 'old')`, [time]);
        }
        await own.query(`insert into ${t} (created_at, operator) values (now(), 'new')`);
        const old = (await own.query<{ id: string }>(`select id::text as id from ${t} where operator = 'old' order by id`)).rows.map((row) => row.id);
        const before = (await truthOf(own)).filter((row) => old.includes(row.id));
        const archive = join(dir, `${own.name}.ndjson`);
        const result = await spawnCli(['--db', databaseUrl(), '--table', t, 'prune', '--retention-days', '30', '--yes', '--json', '--batch-size', '2', '--archive', archive]);
        expect(result.code, result.stderr).toBe(0);
        // The old binary: a page ending at 44 BC went on after AD 44; a dropped partition lost the entries between, unarchived.
        const lines = (await readFile(archive, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { id: string; timestamp: string });
        expect(lines.map((line) => line.id).sort()).toEqual([...old].sort());
        // Each line's time with its era, as list and export print it.
        expect(lines.map((line) => [line.id, line.timestamp])).toEqual(before.map((row) => [row.id, iso(row)]));
        expect(JSON.parse(result.stdout)).toMatchObject({ matched: old.length, deleted: old.length, archived: old.length, complete: true, oldest: '-004712-11-24T00:00:00.125000Z' });
        expect((await own.query(`select operator from ${t}`)).rows).toEqual([{ operator: 'new' }]);
      } finally {
        await own.drop();
      }
    },
  );

  it('export writes it, and its checkpoint at a BC entry continues after that entry', async () => {
    const own = await createTestSchema('bc_time_export');
    try {
      await createDefaultTable(own);
      const insert = async (times: string[]) => {
        for (const time of times) await own.query(`insert into ${own.table()} (created_at, operator) values ($1, 'op')`, [time]);
      };
      await insert(TIMES.slice(0, 3));
      const out = join(dir, 'export.ndjson');
      const checkpoint = join(dir, 'export.checkpoint');
      const exportArgs = ['--db', databaseUrl(), '--table', own.table(), 'export', '--out', out, '--checkpoint', checkpoint];
      const first = await spawnCli(exportArgs);
      expect(first.code, first.stderr).toBe(0);
      const lastBc = (await truthOf(own)).at(-1) as Truth;
      expect(lastBc.bc).toBe(true);
      expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ timestamp: iso(lastBc), id: lastBc.id });
      // Its text used to be 1 AD's 31 December (to_char's year): the next run skipped the entries of 1 AD before then.
      await insert(TIMES.slice(3, 6));
      const second = await spawnCli(exportArgs);
      expect(second.code, second.stderr).toBe(0);
      const lines = (await readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { id: string; timestamp: string });
      expect(lines.map((entry) => [entry.id, entry.timestamp])).toEqual((await truthOf(own)).map((row) => [row.id, iso(row)]));
    } finally {
      await own.drop();
    }
  });
});
