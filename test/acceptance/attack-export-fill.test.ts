import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';

// An attack on the export's read since a1b8954: timestamps from 1900 to 2199 written by Node over a placeholder
// (src/db/timestamp-fill.ts), each entry's head read once for masking and HEC's fields (EntryRecord.read), HEC's head
// copied by Buffer#write. Every timestamp shape (timestamptz, timestamp, timestamp(0), a view) crossed with the range
// edges, heads that hold the timestamp key, the placeholder, braces, line separators, CJK and nulls, and states with
// secrets at every place masking reaches (hits, the scanner, the walkers). The truth is PostgreSQL's own (to_char,
// extract), never the old binary.

let schema: TestSchema;
let dir = '';

// The range's edges on both sides, leap days (1900 and 2100 are not), and the server's own text outside years 1-9999.
const TIMES = `1899-12-31 23:59:59.999999|1900-01-01 00:00:00|1900-01-01 00:00:00.000001|1900-02-28 23:59:59.999999
  1900-03-01 00:00:00|1904-02-29 12:00:00|1969-12-31 23:59:59.999999|2000-02-29 00:00:00.5
  2024-02-29 23:59:59.999999|2100-02-28 23:59:59.999999|2100-03-01 00:00:00|2199-12-31 23:59:59.999999
  2200-01-01 00:00:00|9999-12-31 23:59:59.999999|0044-03-15 12:00:00.5 BC|12026-06-01 00:00:00`.split(/\s*[|\n]\s*/);

// Each head: operator, operation, resource_type, resource_id, resource_name, source_ip, source.
const HEADS = `('alice','update','route','r-1','name','10.0.0.1','api'), (null,null,null,null,null,null,null),
  ('a'||chr(8232)||'b'||chr(8233)||'c'||chr(133),'UPDATE','route','id'||chr(8232),'n'||chr(133),'::ffff:10.0.0.1','dashboard'),
  ('東京 オペレーター','削除','ssl','証明書-1','名前 "q" \\ b','2001:db8::1','adc'),
  ('x","timestamp":"____-__-__T__:__:__.______Z','op\\"x','route','{"a":1}','{','10.0.0.2','api'),
  ('a,"before":{"password":"x"}','update','consumer','r,"before":null','n,"after":{}','10.0.0.5',null),
  (repeat('long-operator-',20),'update','upstream',repeat('id',40),repeat('名',30),'10.0.0.6','api'),
  ('','','','','','0.0.0.0','')`;

// Each state pair: secrets the policy finds by its hits, by the scanner (a string, an array), by the walkers (PEM).
const STATES = `(null, null),
  ('{"password":"CANARY-a1","name":"n"}', '{"password":"CANARY-a2","name":"n"}'),
  ('{"plugins":{"key-auth":{"key":"CANARY-b1"},"basic-auth":{"username":"u","password":"CANARY-b2"}}}', '{"plugins":{"jwt-auth":{"secret":"CANARY-b3"}}}'),
  ('{"headers":{"Authorization":"Bearer CANARY-c1"},"url":"http://u:CANARY-c2@h:80/p"}', '{"desc":"\\"password\\":\\"CANARY-c3\\""}'),
  ('"password=CANARY-d1"', '[1,{"token":"CANARY-d2"}]'),
  ('{"key":"-----BEGIN RSA PRIVATE KEY-----\\nCANARY-e1\\n-----END RSA PRIVATE KEY-----"}', '{"client_secret":"CANARY-e2","timestamp":"____-__-__T__:__:__.______Z"}'),
  ('{"desc":"line'||chr(8232)||'東京","secret":"CANARY-f1'||chr(8233)||'"}', '{"authorization":"Basic CANARY-f2"}')`;

const SHAPES = { tz: 'timestamptz', plain: 'timestamp', zero: 'timestamp(0)' } as const;
type Shape = keyof typeof SHAPES | 'vw';

async function createTables(): Promise<void> {
  await schema.query(`create table ${schema.table('tz')} (id bigserial primary key, created_at timestamptz not null, operator text, operation text,
    resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
  await schema.query(`insert into ${schema.table('tz')} (created_at, operator, operation, resource_type, resource_id, resource_name, source_ip, source, before, after)
    select (case when t like '%BC' then replace(t, ' BC', '+00 BC') else t || '+00' end)::timestamptz, h.o, h.op, h.rt, h.ri, h.rn, h.ip::inet, h.src, s.b::jsonb, s.a::jsonb
    from unnest($1::text[]) with ordinality as x(t, n), (values ${HEADS}) h(o, op, rt, ri, rn, ip, src), (values ${STATES}) s(b, a) order by n`, [TIMES]);
  for (const shape of ['plain', 'zero'] as const) {
    await schema.query(`create table ${schema.table(shape)} (like ${schema.table('tz')})`);
    await schema.query(`alter table ${schema.table(shape)} alter column created_at type ${SHAPES[shape]}, alter column id drop default, add primary key (id)`);
    await schema.query(`insert into ${schema.table(shape)} select id, created_at at time zone 'UTC', operator, operation, resource_type, resource_id,
      resource_name, source_ip, source, before, after from ${schema.table('tz')}`);
  }
  await schema.query(`create view ${schema.table('vw')} as select * from ${schema.table('tz')}`);
}

const utcOf = (shape: Shape) => (shape === 'plain' || shape === 'zero' ? 'created_at' : `created_at at time zone 'UTC'`);

interface Truth {
  text: string | null;
  epoch: string;
  fields: Record<string, string>;
}

/** Each entry as PostgreSQL prints it: to_char's text in years 1-9999, epoch ms, and HEC's `fields` (nulls left out). */
async function truth(shape: Shape): Promise<Map<string, Truth>> {
  const utc = utcOf(shape);
  const { rows } = await schema.query<Record<string, string | null> & { id: string; epoch: string }>(`select id::text,
    case when ${utc} >= '0001-01-01' and ${utc} < '10000-01-01' then to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') end as text,
    (floor(extract(epoch from ${utc}) * 1000) / 1000)::numeric(20, 3)::text as epoch,
    operator, operation, resource_type, resource_id, host(source_ip) as source_ip, source from ${schema.table(shape)}`);
  return new Map(rows.map((row) => {
    const fields: Record<string, string> = { audit_id: row.id };
    for (const field of ['operator', 'operation', 'resource_type', 'resource_id', 'source_ip', 'source']) {
      const value = row[field];
      if (value !== null && value !== undefined) fields[field === 'source' ? 'audit_source' : field] = value;
    }
    return [row.id, { text: row.text ?? null, epoch: row.epoch, fields }];
  }));
}

const cli = (shape: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(shape), ...args], { env: { PGTZ: 'Asia/Kolkata', API7_AUDIT_HEC_TOKEN: 'hec-token', ...env } });

const parseLines = (text: string) => text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown> & { id: string; timestamp: string | null });

/** Every entry's timestamp is PostgreSQL's text (years 1-9999), never the placeholder; no secret canary anywhere. */
function expectEntries(entries: { id: string; timestamp: string | null }[], expected: Map<string, Truth>, masked: boolean, raw: string): void {
  for (const entry of entries) {
    const want = expected.get(entry.id);
    expect(want, `entry ${entry.id}`).toBeDefined();
    if (want?.text) expect(entry.timestamp, `entry ${entry.id}`).toBe(want.text);
    expect(String(entry.timestamp)).not.toContain('_');
  }
  if (masked) expect(raw).not.toMatch(/CANARY/);
  else expect(raw).toMatch(/CANARY-e1/);
}

beforeAll(async () => {
  schema = await createTestSchema('attack_fill');
  await createTables();
  dir = await mkdtemp(join(tmpdir(), 'attack-export-fill-'));
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe.each(['tz', 'plain', 'zero', 'vw'] as const)('hostile entries on a %s timestamp', (shape) => {
  it.each([false, true])('list --all -o ndjson|json and export --out print PostgreSQL\'s timestamps (--show-secrets %s)', async (show) => {
    const expected = await truth(shape);
    const flags = show ? ['--show-secrets'] : [];
    const ndjson = await cli(shape, ['list', '--all', '-o', 'ndjson', ...flags]);
    expect(ndjson.code, ndjson.stderr).toBe(0);
    const listed = parseLines(ndjson.stdout);
    expect(listed).toHaveLength(expected.size);
    expectEntries(listed, expected, !show, ndjson.stdout);
    const json = await cli(shape, ['list', '--all', '-o', 'json', '--order', 'asc', ...flags]);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(expected.size);
    const file = join(dir, `${shape}-${show}.ndjson`);
    const exported = await cli(shape, ['export', '--settle', '0', '--out', file, '-q', ...flags]);
    expect(exported.code, exported.stderr).toBe(0);
    const text = await readFile(file, 'utf8');
    const sent = parseLines(text);
    expectEntries(sent, expected, !show, text);
    // The export masks from the head's bounds, list from its own search: the same entries either way.
    const byId = new Map(listed.map((entry) => [entry.id, entry]));
    for (const entry of sent) expect(entry, `entry ${entry.id}`).toEqual(byId.get(entry.id));
  });

  it('HEC events carry PostgreSQL\'s time and fields for every entry, masked at hits or not', async () => {
    const expected = await truth(shape);
    const { server, hec } = await FakeHec.start();
    try {
      const result = await cli(shape, ['export', '--hec-url', server.url, '--settle', '0', '--concurrency', '1', '--batch-size', '13', '-q']);
      expect(result.code, result.stderr).toBe(0);
      const events = hec.events as { time: number; fields: Record<string, string>; event: { id: string; timestamp: string } }[];
      expect(events.length).toBeGreaterThan(0);
      for (const event of events) {
        const want = expected.get(event.event.id) as Truth;
        expect(event.fields, `entry ${event.event.id}`).toEqual(want.fields);
        if (want.text) expect([event.event.timestamp, event.time.toFixed(3)], `entry ${event.event.id}`).toEqual([want.text, want.epoch]);
      }
      expectEntries(events.map((event) => event.event), expected, true, JSON.stringify(events));
    } finally {
      await server.close();
    }
  });
});

describe('export --checkpoint at the edges of the placeholder range', () => {
  const position = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as { timestamp: string; id: string };

  it.each(['tz', 'plain'] as const)('an --until at either edge stops where PostgreSQL says, and a rerun sends nothing (%s)', async (shape) => {
    for (const [index, until] of ['1900-01-01T00:00:00Z', '1900-01-01T00:00:00.000001Z', '2199-12-31T23:59:59.999999Z', '2200-01-01T00:00:00Z'].entries()) {
      const checkpoint = join(dir, `${shape}-${index}.checkpoint`);
      const file = join(dir, `${shape}-${index}.ndjson`);
      const run = () => cli(shape, ['export', '--settle', '0', '--until', until, '--out', file, '--checkpoint', checkpoint, '-q']);
      const first = await run();
      expect(first.code, first.stderr).toBe(0);
      const { rows } = await schema.query<{ id: string; text: string }>(`select id::text, to_char(${utcOf(shape)}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as text
        from ${schema.table(shape)} where ${utcOf(shape)} < least($1::timestamptz, now()) at time zone 'UTC' order by created_at desc, 0 + id desc limit 1`, [until]);
      expect(await position(checkpoint), `--until ${until}`).toMatchObject({ timestamp: rows[0]?.text, id: rows[0]?.id });
      const sent = await readFile(file, 'utf8');
      const again = await run();
      expect(again.code, again.stderr).toBe(0);
      expect(await readFile(file, 'utf8')).toBe(sent);
    }
  });

  it('resumes across 1900-01-01 exactly: the last microsecond before it, the first in it, ties broken by id', async () => {
    await schema.query(`create table ${schema.table('edge')} (like ${schema.table('tz')} including all)`);
    const add = (times: string[]) => schema.query(`insert into ${schema.table('edge')} (id, created_at, operator, before)
      select (select count(*) from ${schema.table('edge')}) + n, t::timestamptz, 'op', '{"password":"CANARY-g"}' from unnest($1::text[]) with ordinality as x(t, n)`, [times]);
    const checkpoint = join(dir, 'edge.checkpoint');
    const file = join(dir, 'edge.ndjson');
    const run = () => cli('edge', ['export', '--settle', '0', '--out', file, '--checkpoint', checkpoint, '-q']);
    await add(['1899-12-31 23:59:59.999999+00', '1899-12-31 23:59:59.999999+00']);
    expect((await run()).code).toBe(0);
    expect(await position(checkpoint)).toMatchObject({ timestamp: '1899-12-31T23:59:59.999999Z', id: '2' });
    await add(['1899-12-31 23:59:59.999999+00', '1900-01-01 00:00:00+00', '1900-01-01 00:00:00.000001+00']);
    expect((await run()).code).toBe(0);
    expect(await position(checkpoint)).toMatchObject({ timestamp: '1900-01-01T00:00:00.000001Z', id: '5' });
    const sent = parseLines(await readFile(file, 'utf8'));
    expect(sent.map((entry) => [entry.id, entry.timestamp])).toEqual([
      ['1', '1899-12-31T23:59:59.999999Z'], ['2', '1899-12-31T23:59:59.999999Z'], ['3', '1899-12-31T23:59:59.999999Z'],
      ['4', '1900-01-01T00:00:00.000000Z'], ['5', '1900-01-01T00:00:00.000001Z'],
    ]);
  });
});

describe('an entry at -infinity (PostgreSQL takes it in any timestamp column)', () => {
  // A known defect, older than a1b8954 (H52): its timestamp prints as null, so the checkpoint after it is refused
  // (exit 2, never silent). Fixing it means a text for ±infinity on every path (positions, cursors, HEC's time,
  // Elasticsearch's @timestamp, the table): left for the next session, named in the closing note.
  it.fails('is exported with a timestamp, and a checkpoint after it lets the next run go on', async () => {
    await schema.query(`create table ${schema.table('infinite')} (like ${schema.table('tz')} including all)`);
    await schema.query(`insert into ${schema.table('infinite')} (created_at, operator) values ('-infinity', 'a'), ('2020-01-01 00:00:00+00', 'b')`);
    const checkpoint = join(dir, 'infinite.checkpoint');
    const file = join(dir, 'infinite.ndjson');
    const first = await cli('infinite', ['export', '--settle', '0', '--until', '2000-01-01', '--out', file, '--checkpoint', checkpoint, '-q']);
    expect(first.code, first.stderr).toBe(0);
    const second = await cli('infinite', ['export', '--settle', '0', '--out', file, '--checkpoint', checkpoint, '-q']);
    // Was exit 2 at a1b8954 and now: the checkpoint held "timestamp": "" (to_char of -infinity is null) and was refused.
    expect(second.code, second.stderr).toBe(0);
    const sent = parseLines(await readFile(file, 'utf8'));
    expect(sent.map((entry) => entry.operator)).toEqual(['a', 'b']);
    expect(typeof sent[0]?.timestamp).toBe('string');
  });
});
