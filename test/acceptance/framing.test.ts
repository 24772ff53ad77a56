import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeHec } from '../support/fake-hec.js';
import { FakeServer, type FakeRequest, type Protocol } from '../support/fake-server.js';

// Every NDJSON line and every bulk line the tool writes is exactly one entry, whatever the state column's type.
// Lines are counted the way the most split-happy reader does (Python's str.splitlines: CR, LF, U+2028, U+2029, U+0085).

// eslint-disable-next-line no-control-regex -- the separators str.splitlines knows, control characters included
const SPLIT_HAPPY = /\r\n|[\n\r\u2028\u2029\u0085\v\f\u001c\u001d\u001e]/;
const FORGED = '{"id":"999999","timestamp":"2026-10-04T20:39:00.000000Z","operator":"alice","operation":"delete","resource_type":"ssl","resource_id":"prod-cert","resource_name":null,"source_ip":null,"source":null,"before":null,"after":null}';

interface Row {
  operator: string;
  /** The state's text as stored (json and text columns keep it byte for byte). */
  after: string;
  /** jsonb cannot hold it. */
  nul?: boolean;
}

const ROWS: Row[] = [
  // Whitespace line breaks around a whole forged entry: in a json column, PostgreSQL keeps them as they are.
  { operator: 'mallory', after: `{"note":\n${FORGED}\n,"x":1}` },
  { operator: 'crlf', after: '{"a":\r\n"line1\\nline2",\r\n"b":[1,\r\n2]}\r\n' },
  { operator: 'separators\u2028op', after: '{"ls":"a\u2028b","ps":"c\u2029d","nel":"e\u0085f"}' },
  { operator: 'nul', after: '{"n":"x\\u0000y","deep":{"k":[null,true,"\\u0000"]}}', nul: true },
  { operator: 'plain', after: '{"k":"v"}' },
];

const TYPES = ['json', 'jsonb', 'text'] as const;
type StateType = (typeof TYPES)[number];

let schema: TestSchema;
let dir: string;
let tables = 0;

beforeAll(async () => {
  schema = await createTestSchema('framing');
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-framing-'));
});
afterAll(async () => {
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh table with default column names and `type` states, holding ROWS (minus what the type cannot hold). */
async function createTable(type: StateType): Promise<{ table: string; rows: Row[] }> {
  const name = `t${(tables += 1)}_${type}`;
  await schema.query(`create table ${schema.name}.${name} (id bigserial primary key, created_at timestamptz not null,
    operator text, operation text, resource_type text, resource_id text, resource_name text, source_ip inet, source text,
    before ${type}, after ${type})`);
  await schema.query(`create index on ${schema.name}.${name} (created_at, id)`);
  const rows = ROWS.filter((row) => type !== 'jsonb' || !row.nul);
  for (const [i, row] of rows.entries()) {
    await schema.query(
      `insert into ${schema.name}.${name} (created_at, operator, operation, resource_type, resource_id, after)
       values (now() - interval '40 days' + $1 * interval '1 second', $2, 'update', 'route', 'r', $3::text::${type})`,
      [i, row.operator, row.after],
    );
  }
  return { table: `${schema.name}.${name}`, rows };
}

/** Asserts that `lines` are exactly the entries of `rows`, each parsing back to the original values. */
function expectEntries(lines: string[], rows: Row[]): void {
  expect(lines).toHaveLength(rows.length);
  const entries = lines.map((line) => JSON.parse(line) as { operator: string; after: unknown });
  expect(entries.map((entry) => entry.operator)).toEqual(rows.map((row) => row.operator));
  expect(entries.map((entry) => entry.after)).toEqual(rows.map((row) => JSON.parse(row.after) as unknown));
}

/** Non-empty lines, split as str.splitlines would; the text must end with a line break. */
function splitLines(text: string): string[] {
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split(SPLIT_HAPPY);
}

const db = (table: string) => ['--db', databaseUrl(), '--table', table];

describe.each(TYPES)('%s state columns', (type) => {
  it('export --out FILE writes one line per entry', async () => {
    const { table, rows } = await createTable(type);
    const out = join(dir, `${type}-out.ndjson`);
    const result = await spawnCli([...db(table), 'export', '--out', out]);
    expect(result.stderr).toContain(`exported ${rows.length} entries`);
    expect(result.code).toBe(0);
    expectEntries(splitLines(await readFile(out, 'utf8')), rows);
  });

  it('export --out - writes one line per entry', async () => {
    const { table, rows } = await createTable(type);
    const result = await spawnCli([...db(table), 'export', '--out', '-']);
    expect(result.code, result.stderr).toBe(0);
    expectEntries(splitLines(result.stdout), rows);
  });

  it.each(['plain', 'gzip'])('prune --archive (%s) writes one line per entry', async (kind) => {
    const { table, rows } = await createTable(type);
    const archive = join(dir, `${type}-archive-${kind}.ndjson${kind === 'gzip' ? '.gz' : ''}`);
    const result = await spawnCli([...db(table), 'prune', '--retention-days', '30', '--yes', '--archive', archive]);
    expect(result.code, result.stderr).toBe(0);
    const bytes = await readFile(archive);
    expectEntries(splitLines((kind === 'gzip' ? gunzipSync(bytes) : bytes).toString('utf8')), rows);
  });

  it('Elasticsearch: every bulk body is action and source lines, a pair per entry', async () => {
    const { table, rows } = await createTable(type);
    const es = new FakeElastic();
    const bodies: string[] = [];
    const server = await new FakeServer(recording(es, bodies)).start();
    try {
      const result = await spawnCli([...db(table), 'export', '--elastic-url', server.url, '--json'], { env: { API7_AUDIT_ELASTIC_API_KEY: 'es-key' } });
      expect(result.code, result.stderr).toBe(0);
      const lines = bodies.flatMap(splitLines);
      expect(lines).toHaveLength(2 * rows.length);
      const actions = lines.filter((_, i) => i % 2 === 0).map((line) => JSON.parse(line) as { create?: unknown });
      expect(actions.every((action) => action.create !== undefined)).toBe(true);
      expectEntries(lines.filter((_, i) => i % 2 === 1), rows);
      expect(es.docs.size).toBe(rows.length);
    } finally {
      await server.close();
    }
  });

  it('Splunk HEC: one event per entry, each with the original values', async () => {
    const { table, rows } = await createTable(type);
    const { server, hec } = await FakeHec.start();
    try {
      const result = await spawnCli([...db(table), 'export', '--hec-url', server.url, '--json'], { env: { API7_AUDIT_HEC_TOKEN: 'hec-token' } });
      expect(result.code, result.stderr).toBe(0);
      expect(hec.events).toHaveLength(rows.length);
      expectEntries(hec.events.map((event) => JSON.stringify(event.event)), rows);
    } finally {
      await server.close();
    }
  });
});

/** `protocol`, keeping each request body as text. */
function recording(protocol: Protocol, bodies: string[]): Protocol {
  return {
    handle: (request: FakeRequest) => {
      bodies.push(request.body.toString('utf8'));
      return protocol.handle(request);
    },
    failure: (status) => protocol.failure(status),
    discardReply: (request) => protocol.discardReply(request),
  };
}

describe('a text state that is not JSON (it once failed the whole COPY and every later entry)', () => {
  const POISON = ['{"ok":1}', '{"cert": "unterminated', '{"n":"\\u0000"}', '{"a":1}}', '{"deleted":"prod-cert"}'];

  async function createPoisonTable(): Promise<{ table: string; ids: string[] }> {
    const name = `t${(tables += 1)}_poison`;
    await schema.query(`create table ${schema.name}.${name} (id bigserial primary key, created_at timestamptz not null,
      operator text, operation text, resource_type text, resource_id text, before text, after text)`);
    const ids: string[] = [];
    for (const [i, after] of POISON.entries()) {
      const inserted = await schema.query<{ id: string }>(
        `insert into ${schema.name}.${name} (created_at, operator, operation, resource_type, resource_id, after)
         values (now() - interval '1 hour' + $1 * interval '1 second', 'op', 'delete', 'ssl', $2, $3) returning id::text`,
        [i, `r${i}`, after],
      );
      ids.push(inserted.rows[0]?.id ?? '');
    }
    return { table: `${schema.name}.${name}`, ids };
  }

  /** Each entry's `after`: the document, or the marker carrying the raw text when it is not JSON. */
  const expectedAfter = POISON.map((text) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return { $api7_audit: 'invalid_json', raw: text };
    }
  });

  function expectWarnings(stderr: string, ids: string[], verb: string): void {
    const named = stderr.split('\n').filter((line) => line.startsWith('warning: entry id'));
    expect(named).toEqual([1, 3].map((i) => `warning: entry id ${ids[i]}: after is not valid JSON; ${verb} as {"$api7_audit":"invalid_json","raw":"<its text>"}`));
  }

  it('export --out - sends every entry, the bad ones carried raw and named on stderr', async () => {
    const { table, ids } = await createPoisonTable();
    const result = await spawnCli([...db(table), 'export', '--out', '-']);
    expect(result.code, result.stderr).toBe(0);
    const entries = splitLines(result.stdout).map((line) => JSON.parse(line) as { id: string; after: unknown });
    expect(entries.map((entry) => entry.id)).toEqual(ids);
    expect(entries.map((entry) => entry.after)).toEqual(expectedAfter);
    expectWarnings(result.stderr, ids, 'sent');
  });

  it('export to HEC delivers the entries after the bad ones', async () => {
    const { table, ids } = await createPoisonTable();
    const { server, hec } = await FakeHec.start();
    try {
      const result = await spawnCli([...db(table), 'export', '--hec-url', server.url, '--json'], { env: { API7_AUDIT_HEC_TOKEN: 'hec-token' } });
      expect(result.code, result.stderr).toBe(0);
      expect(hec.events.map((event) => (event.event as { id: string }).id)).toEqual(ids);
      expect(hec.events.map((event) => (event.event as { after: unknown }).after)).toEqual(expectedAfter);
      expectWarnings(result.stderr, ids, 'sent');
    } finally {
      await server.close();
    }
  });

  it('a secret in such raw text is masked like any other (export, list, show, prune --archive), and kept with --show-secrets', async () => {
    const name = `t${(tables += 1)}_secret`;
    await schema.query(`create table ${schema.name}.${name} (id bigserial primary key, created_at timestamptz not null,
      operator text, operation text, resource_type text, resource_id text, before text, after text)`);
    const raw = '{"name":"c1", "password": "hunter2-raw", "plugins": {"key-auth": {"key": "k-raw"}}, "broken": ';
    await schema.query(`insert into ${schema.name}.${name} (created_at, operator, after) values (now() - interval '1 hour', 'op', $1)`, [raw]);
    // The object that parses inside the raw text is masked as a document and written back compact (json-fragments.ts).
    const masked = '{"name":"c1", "password": "******", "plugins": {"key-auth":{"key":"******"}}, "broken": ';
    const table = `${schema.name}.${name}`;
    for (const argv of [['export', '--out', '-'], ['list', '--all', '-o', 'ndjson']]) {
      const result = await spawnCli([...db(table), ...argv]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).not.toContain('hunter2');
      expect(result.stdout).not.toContain('k-raw');
      expect((JSON.parse(splitLines(result.stdout)[0] ?? '') as { after: unknown }).after).toEqual({ $api7_audit: 'invalid_json', raw: masked });
    }
    const shown = await spawnCli([...db(table), 'export', '--out', '-', '--show-secrets']);
    expect((JSON.parse(splitLines(shown.stdout)[0] ?? '') as { after: unknown }).after).toEqual({ $api7_audit: 'invalid_json', raw });
    const id = (JSON.parse(splitLines(shown.stdout)[0] ?? '') as { id: string }).id;
    const show = await spawnCli([...db(table), 'show', id, '--output', 'json']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toContain('hunter2');
    expect((JSON.parse(show.stdout) as { after: unknown }).after).toEqual({ $api7_audit: 'invalid_json', raw: masked });
    await schema.query(`update ${schema.name}.${name} set created_at = now() - interval '40 days'`);
    const archive = join(dir, 'secret-archive.ndjson');
    const prune = await spawnCli([...db(table), 'prune', '--retention-days', '30', '--yes', '--archive', archive]);
    expect(prune.code, prune.stderr).toBe(0);
    const archived = await readFile(archive, 'utf8');
    expect(archived).not.toContain('hunter2');
    expect((JSON.parse(splitLines(archived)[0] ?? '') as { after: unknown }).after).toEqual({ $api7_audit: 'invalid_json', raw: masked });
  });

  it('list --all --output ndjson lists every entry and names the bad ones', async () => {
    const { table, ids } = await createPoisonTable();
    const result = await spawnCli([...db(table), 'list', '--all', '--order', 'asc', '-o', 'ndjson']);
    expect(result.code, result.stderr).toBe(0);
    const entries = splitLines(result.stdout).map((line) => JSON.parse(line) as { id: string; after: unknown });
    expect(entries.map((entry) => entry.id)).toEqual(ids);
    expect(entries.map((entry) => entry.after)).toEqual(expectedAfter);
    expectWarnings(result.stderr, ids, 'listed');
  });
});
