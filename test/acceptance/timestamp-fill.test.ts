import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { seededRandom } from '../support/random.js';

// The export's COPY (and `list --all -o ndjson|json`) sends each timestamp from 1900 to 2199 as a placeholder and
// its eight binary bytes, and Node writes the text (src/db/timestamp-fill.ts). Every entry must print what
// PostgreSQL's to_char prints for it, to the microsecond: random instants over the whole range and its edges (leap
// days, 1900 and 2100 that are not leap years, the last microsecond before 2200), outside it (which the server still
// writes), and BC years, for a timestamptz column and for a plain timestamp holding UTC, under a session time zone
// that is not UTC.

let schema: TestSchema;
let dir = '';

const EDGES = [
  '1899-12-31 23:59:59.999999', '1900-01-01 00:00:00', '1900-02-28 23:59:59.999999', '1900-03-01 00:00:00',
  '1969-12-31 23:59:59.999999', '1970-01-01 00:00:00', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00',
  '2000-02-29 12:00:00.000001', '2024-02-29 23:59:59.5', '2100-02-28 23:59:59.999999', '2100-03-01 00:00:00',
  '2199-12-31 23:59:59.999999', '2200-01-01 00:00:00', '1800-06-15 01:02:03.04', '9999-12-31 23:59:59.999999',
  '0001-01-01 00:00:00', '0044-03-15 12:00:00.5 BC', '12026-01-01 00:00:00',
];

/** `count` instants from 1890 to 2210, microseconds and all, as PostgreSQL reads them. */
function randomTimes(count: number): string[] {
  const random = seededRandom(20261205);
  const from = Date.UTC(1890, 0, 1);
  const to = Date.UTC(2210, 0, 1);
  return Array.from({ length: count }, () => {
    const ms = from + Math.floor(random() * (to - from));
    const micros = String(Math.floor(random() * 1000)).padStart(3, '0');
    return `${new Date(ms).toISOString().slice(0, -1)}${micros}`;
  });
}

const TIMES = [...EDGES, ...randomTimes(4000)];

async function createTable(name: string, type: 'timestamptz' | 'timestamp'): Promise<void> {
  await schema.query(`create table ${schema.table(name)} (id bigserial primary key, created_at ${type} not null, operator text, operation text,
    resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
  await schema.query(`create index on ${schema.table(name)} (created_at, id)`);
  const zone = type === 'timestamptz' ? '+00' : '';
  await schema.query(`insert into ${schema.table(name)} (created_at, operator, operation, resource_type, resource_id, before)
    select t::${type}, 'op', 'update', 'route', 'r-' || n, jsonb_build_object('n', n) from unnest($1::text[]) with ordinality as x(t, n)`,
    [TIMES.map((time) => (time.endsWith(' BC') ? time.replace(' BC', `${zone} BC`) : `${time}${zone}`))]);
}

/** What PostgreSQL prints for each entry: the canonical text for years 1-9999 (the others: expanded, checked below). */
async function truth(name: string): Promise<Record<string, string>> {
  const utc = name === 'tz' ? `created_at at time zone 'UTC'` : 'created_at';
  const { rows } = await schema.query<{ id: string; text: string }>(
    `select id::text as id, to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as text from ${schema.table(name)} where ${utc} >= '0001-01-01' and ${utc} < '10000-01-01'`,
  );
  return Object.fromEntries(rows.map((row) => [row.id, row.text]));
}

const cli = (name: string, args: string[]) =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(name), ...args], { env: { PGTZ: 'Asia/Kolkata', API7_AUDIT_TZ: 'America/St_Johns' } });

const timestamps = (ndjson: string) =>
  Object.fromEntries(ndjson.trim().split('\n').map((line) => JSON.parse(line) as { id: string; timestamp: string }).map((entry) => [entry.id, entry.timestamp]));

beforeAll(async () => {
  schema = await createTestSchema('ts_fill');
  await createTable('tz', 'timestamptz');
  await createTable('plain', 'timestamp');
  dir = await mkdtemp(join(tmpdir(), 'timestamp-fill-'));
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe.each(['tz', 'plain'])('timestamps written by Node on a %s column', (name) => {
  it('list --all -o ndjson and export --out print what to_char prints, for every entry', async () => {
    const expected = await truth(name);
    expect(Object.keys(expected)).toHaveLength(TIMES.length - 2);
    const listed = await cli(name, ['list', '--all', '-o', 'ndjson']);
    expect(listed.code, listed.stderr).toBe(0);
    const printed = timestamps(listed.stdout);
    expect(Object.keys(printed)).toHaveLength(TIMES.length);
    const file = join(dir, `${name}.ndjson`);
    const exported = await cli(name, ['export', '--settle', '0', '--out', file]);
    expect(exported.code, exported.stderr).toBe(0);
    // The export stops at its bound (now): the entries before it, each as list prints it.
    const sent = timestamps(await readFile(file, 'utf8'));
    const past = Object.entries(printed).filter(([, text]) => text.startsWith('-') || (!text.startsWith('+') && text < new Date().toISOString()));
    expect(Object.keys(sent)).toHaveLength(past.length);
    expect(sent).toEqual(Object.fromEntries(past));
    for (const [id, text] of Object.entries(expected)) expect(printed[id], `entry ${id}`).toBe(text);
    // The two the server still writes, in ISO 8601's expanded years; no placeholder anywhere.
    expect(Object.values(printed).filter((text) => !(text in invert(expected)))).toEqual(['-000043-03-15T12:00:00.500000Z', '+012026-01-01T00:00:00.000000Z']);
    expect(listed.stdout).not.toContain('____');
  });
});

describe('a text id, hostile, before the placeholder', () => {
  it('is passed over by the search for the key, and the timestamp after it is written', async () => {
    const ids = ['plain', 'x","timestamp":"____-__-__T__:__:__.______Z","', '"', '\\', '\u6771\u4eac 12', '123"', '00'];
    await schema.query(`create table ${schema.table('text_id')} (id text primary key, created_at timestamptz not null, operator text, operation text,
      resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
    await schema.query(`insert into ${schema.table('text_id')} (id, created_at, operator) select id, timestamptz '2020-02-29 12:34:56.789012+00' + n * interval '1 day', 'op'
      from unnest($1::text[]) with ordinality as x(id, n)`, [ids]);
    const listed = await cli('text_id', ['list', '--all', '-o', 'ndjson']);
    expect(listed.code, listed.stderr).toBe(0);
    const { rows } = await schema.query<{ id: string; text: string }>(`select id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as text from ${schema.table('text_id')}`);
    expect(timestamps(listed.stdout)).toEqual(Object.fromEntries(rows.map((row) => [row.id, row.text])));
  });
});

function invert(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [value, key]));
}
