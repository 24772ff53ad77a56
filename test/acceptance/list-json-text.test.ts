import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { toCanonicalEntry } from '../../src/output/canonical.js';
import { createSecretPolicy, maskEntry } from '../../src/secrets/policy.js';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';
import { seededRandom } from '../support/random.js';

// `list --output json|ndjson` prints the server's JSON text of each entry, masked by scanning and compacted
// (src/output/compact-json.ts), instead of JSON.stringify of parsed rows. These runs of the built binary hold it to
// the bytes the parsed way gives, computed here from the same rows as pg parses them: jsonb states with numbers that
// JavaScript prints differently (1.0, 1.50, -0, 1e3, integers past 2^53), keys that JavaScript reorders ("10"),
// separators inside strings, escapes, CJK and other non-ASCII text, U+2028, and secrets that must be masked.

let schema: TestSchema;
const policy = createSecretPolicy();
const SECRET_PREFIX = 'S3cr3t-';

/** Raw JSON texts, inserted as jsonb from their text so that the server keeps forms JSON.stringify would not write. */
const HAND_WRITTEN: readonly string[] = [
  '{"id": "r-1", "name": "订单列表, 东京: «café»", "plugins": {"key-auth": {"key": "S3cr3t-keyauth"}}, "priority": 1.0, "ratio": 1.50}',
  '{"id": "ssl-1", "cert": "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----", "key": "S3cr3t-sslkey", "snis": ["例子.cn"]}',
  '{"10": "ten", "2": "two", "b": {"0": [1, 2], "x": -0}, "password": "S3cr3t-pw", "big": 12345678901234567890, "tiny": 0.0000001}',
  '{"desc": "line\\nbreak \\"quoted\\" back\\\\slash \\u0001 ctl", "sep": "a, b: c", "ls": "\u2028\u2029", "emoji": "😀 𝒳", "n": 1e3}',
  '{"client_secret": {"nested": ["S3cr3t-deep"]}, "token": 42, "Authorization": "Bearer S3cr3t-bearer", "x-api-key": "S3cr3t-xapi"}',
  '{"a": [], "b": {}, "c": [[[]]], "d": [{"password": "S3cr3t-inarray"}], "e": true, "f": false, "g": null, "h": -12.5e-3}',
  '{"\\u212aey": "kelvin key", "cert": "c", "ключ": "значение", "limit-count": {"key": "remote_addr", "count": 100}}',
];

interface Pick {
  int(below: number): number;
  pick<T>(values: readonly T[]): T;
}

function picker(seed: number): Pick {
  const next = seededRandom(seed);
  const int = (below: number) => Math.floor(next() * below);
  return { int, pick: (values) => values[int(values.length)] as (typeof values)[number] };
}

function randomDocument(random: Pick, depth = 0): string {
  const keys = ['id', 'name', 'desc', 'password', 'key', 'keys', 'cert', 'plugins', 'nodes', '7', '42', 'host', '名称', 'token', 'weight'];
  const scalar = () => random.pick(['1.0', '-0', '3', '1e2', '99999999999999999', '0.5', '"a, b: c"', '"运维: 张伟"', 'true', 'null', `"v-${random.int(1000)}"`, '"\\t\\"x\\""']);
  if (depth > 2 || random.int(3) === 0) return scalar();
  if (random.int(4) === 0) return `[${Array.from({ length: random.int(4) }, () => randomDocument(random, depth + 1)).join(', ')}]`;
  const members = Array.from({ length: 1 + random.int(5) }, () => `${JSON.stringify(random.pick(keys))}: ${randomDocument(random, depth + 1)}`);
  return `{${members.join(', ')}}`;
}

beforeAll(async () => {
  schema = await createTestSchema('listtext');
  await createDefaultTable(schema);
  const random = picker(20261203);
  const states = [...HAND_WRITTEN, ...Array.from({ length: 120 }, () => randomDocument(random))];
  const operators = ['张伟@example.cn', 'bob', 'Zoë "quoted"', 'back\\slash', null];
  const types = ['route', 'ssl', 'consumer', null];
  for (let i = 0; i < states.length; i += 1) {
    // Every third row shares its timestamp with the one before: pages must break ties by id.
    await schema.query(
      `insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, resource_name, source_ip, source, before, after)
       values ('2026-11-01T00:00:00Z'::timestamptz + make_interval(secs => $1), $2, $3, $4, $5, $6, $7, 'dashboard', $8::jsonb, $9::jsonb)`,
      [i - (i % 3 === 2 ? 1 : 0), operators[i % operators.length], i % 4 === 0 ? 'DELETE' : 'UPDATE', types[i % types.length],
        `res-${i}`, `资源 ${i}`, i % 2 === 0 ? '10.0.0.1' : '2001:db8::1', states[i], i % 4 === 0 ? null : states[(i * 7) % states.length]],
    );
  }
}, 60_000);
afterAll(() => schema.drop());

/** What `list` printed before: rows as pg parses them (jsonb through JSON.parse), masked, JSON.stringify'd. */
async function expectedLines(masked: boolean, order: 'asc' | 'desc' = 'desc'): Promise<string[]> {
  const { rows } = await schema.query<AuditEntry>(
    `select id::text as id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as timestamp, operator, operation,
            resource_type, resource_id, resource_name, host(source_ip) as source_ip, source, before, after
     from ${schema.table()} order by created_at ${order}, id ${order}`,
  );
  return rows.map((row) => JSON.stringify(toCanonicalEntry(masked ? maskEntry(row, policy) : row)));
}

const list = (args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list', ...args]);

describe('list --output ndjson|json through the built binary', () => {
  it('--all --output ndjson: the same bytes as JSON.stringify of the masked entries, and no secret left', async () => {
    const result = await list(['--all', '--output', 'ndjson']);
    expect(result.code, result.stderr).toBe(0);
    const expected = await expectedLines(true);
    expect(result.stdout).toBe(`${expected.join('\n')}\n`);
    expect(result.stdout).not.toContain(SECRET_PREFIX);
    expect(result.stdout).toContain('"******"');
    expect(result.stderr).toBe('');
  });

  it('--show-secrets: the same bytes unmasked', async () => {
    const result = await list(['--all', '--output', 'ndjson', '--show-secrets', '--order', 'asc']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${(await expectedLines(false, 'asc')).join('\n')}\n`);
    expect(result.stdout).toContain(`${SECRET_PREFIX}pw`);
  });

  it('--json --all: one array, one entry per line; nothing matched prints [] (and nothing for ndjson)', async () => {
    const result = await list(['--json', '--all']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`[\n${(await expectedLines(true)).join(',\n')}\n]\n`);
    expect(JSON.parse(result.stdout)).toHaveLength(HAND_WRITTEN.length + 120);
    const none = await list(['--json', '--operator', 'nobody']);
    expect([none.code, none.stdout]).toEqual([0, '[]\n']);
    const noneNd = await list(['--output', 'ndjson', '--operator', 'nobody', '--all']);
    expect([noneNd.code, noneNd.stdout]).toEqual([0, '']);
  });

  for (const order of ['desc', 'asc'] as const) {
    it(`pages of 4 with --cursor (${order}) add up to --all, across timestamp ties`, async () => {
      const expected = await expectedLines(true, order);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 60; page += 1) {
        const args = ['--limit', '4', '--order', order, '--output', 'ndjson', ...(cursor ? ['--cursor', cursor] : [])];
        const result = await list(args);
        expect(result.code, result.stderr).toBe(0);
        seen.push(...result.stdout.split('\n').filter(Boolean));
        cursor = /--cursor (\S+)/.exec(result.stderr)?.[1];
        if (!cursor) break;
      }
      expect(seen).toEqual(expected);
    }, 60_000);
  }
});
