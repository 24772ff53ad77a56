import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';
import { startRecorded } from '../support/recording.js';

// Entries built to break a body's framing or a receiver's parser: quotes and backslashes, raw line breaks in
// plain fields, U+2028/U+2029/U+0085, control characters, astral characters, a state of 400 KB, a state nested 150
// deep, strings shaped like a bulk action or the end of an entry, keys such as `_id`, `@timestamp`, `__proto__`.
// Each must arrive on each sink as exactly one valid JSON document, equal to what PostgreSQL holds.

const FORGED_ACTION = '"}}\n{"create":{"_index":"evil","_id":"api7-audit-1"}}\n{"id":"1"}\n';
const nested = (depth: number): unknown => (depth === 0 ? 'bottom' : { a: [nested(depth - 1)] });
const ROWS = [
  { operator: 'quote"back\\slash\'', resource_id: 'r-1', after: { q: 'a"b\\c\'d', path: 'C:\\x\\"y"', slash: '</script>' } },
  { operator: `line\nbreak\r\n${FORGED_ACTION}`, resource_id: `r-2\u2028\u2029\u0085`, after: { nl: 'l1\nl2\r\n\tend', seps: 'a\u2028b\u2029c\u0085d' } },
  { operator: 'ünïcödé 日本語 🎉', resource_id: '🔥-3', after: { uni: 'Grüße, 世界, 𝄞, 👩‍👩‍👧', rtl: '\u202ereversed\u202c', ctl: '\u0001\u001f\u007f\u009f' } },
  { operator: 'big', resource_id: 'r-4', after: { big: 'y'.repeat(400_000), multibyte: 'é'.repeat(50_000) } },
  { operator: 'deep', resource_id: 'r-5', after: nested(150) },
  { operator: 'lookalike', resource_id: 'r-6', before: { x: '"},{"id":"999","after":{' }, after: { x: FORGED_ACTION, y: '}\n{' } },
  { operator: 'keys', resource_id: 'r-7', after: { '': 1, _id: 'evil', '@timestamp': '1970-01-01T00:00:00Z', 'a.b': { 'c.d': 2 }, n: [1.5e300, -0, 2 ** 53 + 2] } },
  { operator: null, resource_id: null, before: null, after: {} },
];

let schema: TestSchema;
let dir: string;
/** What PostgreSQL holds, parsed: by entry id. */
const expected = new Map<string, { operator: string | null; before: unknown; after: unknown }>();
const servers: FakeServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-attack-sinks-entries-'));
  schema = await createTestSchema('attack_sinks_entries');
  await createDefaultTable(schema);
  await insertRows(schema, ROWS.map((row, i) => ({ ...row, age: `${ROWS.length - i} minutes`, operation: 'UPDATE', resource_type: 'route' })));
  // `__proto__` as an own key (in a literal it sets the prototype instead).
  await schema.query(`update ${schema.table()} set after = after || '{"__proto__":{"polluted":true}}'::jsonb where operator = 'keys'`);
  const stored = await schema.query<{ id: string; operator: string | null; before: string | null; after: string | null }>(
    `select id::text, operator, before::text, after::text from ${schema.table()} order by created_at, id`,
  );
  for (const row of stored.rows) {
    expected.set(row.id, { operator: row.operator, before: row.before === null ? null : JSON.parse(row.before), after: row.after === null ? null : JSON.parse(row.after) });
  }
});
afterAll(async () => {
  await Promise.all([schema.drop(), ...servers.map((server) => server.close()), rm(dir, { recursive: true, force: true })]);
});

const exportTo = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--json', '--batch-size', '3', ...args], { env });
  expect(result.code, result.stderr).toBe(0);
  expect((JSON.parse(result.stdout) as { exported: number; reduced: number }).exported).toBe(ROWS.length);
  return result;
};

/** Each received entry equals PostgreSQL's, and each id came exactly once. */
function expectIntact(received: { id: unknown; operator?: unknown; before?: unknown; after?: unknown }[]): void {
  expect(received.map((entry) => String(entry.id)).sort()).toEqual([...expected.keys()].sort());
  for (const entry of received) {
    const want = expected.get(String(entry.id));
    expect(entry.operator ?? null, `entry ${String(entry.id)}`).toEqual(want?.operator);
    expect(entry.before ?? null, `entry ${String(entry.id)} before`).toEqual(want?.before);
    expect(entry.after ?? null, `entry ${String(entry.id)} after`).toEqual(want?.after);
  }
  const keys = received.find((entry) => entry.operator === 'keys')?.after as Record<string, unknown>;
  expect(Object.hasOwn(keys, '__proto__')).toBe(true);
}

describe('hostile entries arrive intact, one document each', () => {
  it('the seed holds what it should (so the checks below can fail)', () => {
    const strings: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') strings.push(value);
      else if (value !== null && typeof value === 'object') {
        for (const [key, inner] of Object.entries(value)) {
          strings.push(key);
          collect(inner);
        }
      }
    };
    collect([...expected.values()]);
    for (const part of ['\u2028', '\n{"create"', 'y'.repeat(400_000), '🎉', '__proto__', '\u0001']) {
      expect(strings.some((text) => text.includes(part)), JSON.stringify(part)).toBe(true);
    }
  });

  it.each([false, true])('Elasticsearch _bulk (gzip %s): one create per entry, in the one index, each document equal', async (gzip) => {
    const es = new FakeElastic({ apiKey: 'es-key' });
    const { server } = await startRecorded(es);
    servers.push(server);
    await exportTo(['--elastic-url', server.url, ...(gzip ? ['--gzip'] : [])], { API7_AUDIT_ELASTIC_API_KEY: 'es-key' });
    expect([...es.docs.keys()].every((key) => /^api7-audit\/api7-audit-\d+-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(key))).toBe(true);
    expectIntact([...es.docs.values()] as { id: unknown }[]);
    for (const doc of es.docs.values()) expect(doc['@timestamp']).toBe(doc.timestamp);
  });

  it.each([false, true])('Datadog (gzip %s): one log per entry under `audit`, the message line holding the operator as stored', async (gzip) => {
    const dd = new FakeDatadog({ apiKey: 'dd-key' });
    const { server } = await startRecorded(dd);
    servers.push(server);
    await exportTo(['--datadog-url', server.url, ...(gzip ? ['--gzip'] : [])], { DD_API_KEY: 'dd-key' });
    expectIntact(dd.logs.map((log) => log.audit as { id: unknown }));
    for (const log of dd.logs) {
      const audit = log.audit as { operator: string | null; resource_id: string | null };
      expect(log.message).toBe(`${audit.operator ?? '-'} UPDATE route ${audit.resource_id ?? ''}`.trimEnd());
    }
  });

  it('Splunk HEC: one event per entry', async () => {
    const hec = new FakeHec({ token: 'hec-token' });
    const { server } = await startRecorded(hec);
    servers.push(server);
    await exportTo(['--hec-url', server.url], { API7_AUDIT_HEC_TOKEN: 'hec-token' });
    expectIntact(hec.events.map((event) => event.event as { id: unknown }));
  });

  it('--out: one line per entry, each line valid JSON (split at \\n only, and by Python-style line breaks too)', async () => {
    const out = join(dir, 'hostile.ndjson');
    await exportTo(['--out', out]);
    const text = await readFile(out, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    expectIntact(lines.map((line) => JSON.parse(line) as { id: unknown }));
    // eslint-disable-next-line no-control-regex -- the line breaks Python's str.splitlines knows
    expect(text.split(/[\n\r\u2028\u2029\u0085\u000b\u000c\u001c-\u001e]/).filter(Boolean)).toHaveLength(ROWS.length);
  });
});
