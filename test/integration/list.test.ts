import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { runCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { HOSTILE_OPERATOR, LONG_OPERATOR, UNICODE_OPERATOR, varietyRows } from '../support/fixtures.js';

let schema: TestSchema;
let tieIds: string[];
// A time in the middle of the fixture's 100 days (fixtures are relative to now), shared by five entries.
let tieTime: string;

beforeAll(async () => {
  schema = await createTestSchema('list');
  await createDefaultTable(schema);
  await insertRows(schema, varietyRows(400));
  // Five entries sharing one timestamp: pagination must break the tie by id and lose none.
  const now = await schema.query<{ t: string }>(
    `select to_char((now() - interval '50 days 30 minutes') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
  );
  tieTime = now.rows[0]?.t ?? '';
  tieIds = await insertRows(schema, Array.from({ length: 5 }, () => ({ at: tieTime, operator: 'tie' })));
  // Ids of different lengths in the tie: 99999 < 100000 as numbers but not as text, so ordering by a text id would
  // disagree with the keyset comparison and skip or repeat entries across pages.
  tieIds.push(...(await insertRows(schema, [99_999, 100_000, 1_000_000].map((id) => ({ id, at: tieTime, operator: 'tie' })))));
});
afterAll(() => schema.drop());

async function list(args: string[]): Promise<AuditEntry[]> {
  const result = await runCli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--all', '-o', 'ndjson', ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);
}

/** What SQL says is there, newest first, for a condition written independently of the tool's query builder. */
async function expected(condition: string, values: unknown[] = []): Promise<string[]> {
  // Not `id::text as id`: ORDER BY would then sort by the text alias, not the bigint column.
  const result = await schema.query<{ id_text: string }>(
    `select id::text as id_text from ${schema.table()} where ${condition} order by created_at desc, id desc`,
    values,
  );
  return result.rows.map((row) => row.id_text);
}

const ids = (entries: AuditEntry[]) => entries.map((entry) => entry.id);

describe('list filters match SQL', () => {
  const cases: [string, () => string[], string, () => unknown[]][] = [
    ['no filter', () => [], 'true', () => []],
    ['--since 7d', () => ['--since', '7d'], `created_at >= now() - interval '7 days'`, () => []],
    ['--until 30d', () => ['--until', '30d'], `created_at < now() - interval '30 days'`, () => []],
    ['--since 2w --until 24h', () => ['--since', '2w', '--until', '24h'], `created_at >= now() - interval '14 days' and created_at < now() - interval '1 day'`, () => []],
    ['--since ISO (inclusive)', () => ['--since', tieTime], 'created_at >= $1', () => [tieTime]],
    ['--until ISO (exclusive)', () => ['--until', tieTime], 'created_at < $1', () => [tieTime]],
    ['--operator', () => ['--operator', 'alice'], 'operator = $1', () => ['alice']],
    ['--operator twice', () => ['--operator', 'alice', '--operator', 'bob'], 'operator in ($1, $2)', () => ['alice', 'bob']],
    ['hostile operator', () => ['--operator', HOSTILE_OPERATOR], 'operator = $1', () => [HOSTILE_OPERATOR]],
    ['unicode operator', () => ['--operator', UNICODE_OPERATOR], 'operator = $1', () => [UNICODE_OPERATOR]],
    ['10 KB operator', () => ['--operator', LONG_OPERATOR], 'operator = $1', () => [LONG_OPERATOR]],
    ['--operation case-insensitive', () => ['--operation', 'delete'], `upper(operation) = 'DELETE'`, () => []],
    ['--operation twice', () => ['--operation', 'Create', '--operation', 'LOGIN'], `upper(operation) in ('CREATE', 'LOGIN')`, () => []],
    ['--resource TYPE', () => ['--resource', 'ssl'], `resource_type = 'ssl'`, () => []],
    ['--resource TYPE:ID', () => ['--resource', 'route:r-3'], `resource_type = 'route' and resource_id = 'r-3'`, () => []],
    ['--resource twice', () => ['--resource', 'route:r-3', '--resource', 'consumer'], `(resource_type = 'route' and resource_id = 'r-3') or resource_type = 'consumer'`, () => []],
    ['--ip exact v4', () => ['--ip', '10.0.0.5'], `source_ip = '10.0.0.5'`, () => []],
    ['--ip CIDR v4', () => ['--ip', '10.0.0.0/8'], `source_ip <<= '10.0.0.0/8'`, () => []],
    ['--ip CIDR v6', () => ['--ip', '2001:db8::/32'], `source_ip <<= '2001:db8::/32'`, () => []],
    ['--ip twice', () => ['--ip', '192.168.0.0/16', '--ip', 'fe80::1'], `source_ip <<= '192.168.0.0/16' or source_ip = 'fe80::1'`, () => []],
    ['--source', () => ['--source', 'adc'], `source = 'adc'`, () => []],
    ['operator + since', () => ['--operator', 'bob', '--since', '30d'], `operator = 'bob' and created_at >= now() - interval '30 days'`, () => []],
    [
      'resource + operation + ip + source',
      () => ['--resource', 'route', '--operation', 'update', '--ip', '10.0.0.0/8', '--source', 'api'],
      `resource_type = 'route' and upper(operation) = 'UPDATE' and source_ip <<= '10.0.0.0/8' and source = 'api'`,
      () => [],
    ],
  ];
  it.each(cases)('%s', async (_name, args, condition, values) => {
    const want = await expected(condition, values());
    const got = ids(await list(args()));
    expect(got).toEqual(want);
  });

  it('every filter case selects something and not everything, so the comparisons mean something', async () => {
    const total = (await expected('true')).length;
    for (const [, args, condition, values] of cases.slice(1)) {
      const count = (await expected(condition, values())).length;
      expect(count, args().join(' ')).toBeGreaterThan(0);
      expect(count, args().join(' ')).toBeLessThan(total);
    }
  });
});

describe('list output', () => {
  it('returns whole canonical entries with secrets masked', async () => {
    const [entry] = await list(['--operator', 'alice']);
    expect(Object.keys(entry ?? {})).toEqual([
      'id', 'timestamp', 'operator', 'operation', 'resource_type', 'resource_id', 'resource_name', 'source_ip', 'source', 'before', 'after',
    ]);
    expect(entry?.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const withKey = (await list(['--operator', 'alice'])).find((e) => e.before !== null);
    expect(JSON.stringify(withKey?.before)).toContain('"key":"******"');
    const shown = (await list(['--operator', 'alice', '--show-secrets'])).find((e) => e.id === withKey?.id);
    expect(JSON.stringify(shown?.before)).toMatch(/"key":"k-\d+"/);
  });

  it('--limit defaults to 50 newest and --order asc reverses', async () => {
    const result = await runCli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--json']);
    expect((JSON.parse(result.stdout) as AuditEntry[]).map((e) => e.id)).toEqual((await expected('true')).slice(0, 50));
    expect(result.stderr).toMatch(/--cursor \S+/);
    const asc = await list(['--order', 'asc']);
    expect(ids(asc)).toEqual((await expected('true')).reverse());
  });
});

describe('list table', () => {
  it('fits the terminal width and colours operations on a TTY', async () => {
    const result = await runCli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--limit', '20'], { tty: true, columns: 72 });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(21);
    // eslint-disable-next-line no-control-regex
    const visible = (line: string) => [...line.replace(/\u001b\[[0-9;]*m/g, '')].length;
    expect(Math.max(...lines.map(visible))).toBeLessThanOrEqual(72);
    // At 72 columns OPERATION gives way to the never-cut ID, TIME and SOURCE IP; at 100 it is shown, coloured.
    const wider = await runCli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--limit', '20'], { tty: true, columns: 100 });
    expect(wider.stdout).toMatch(new RegExp(`${String.fromCharCode(27)}\\[3[1-6]m(CREATE|UPDATE|DELETE|update|Delete|LOGIN)`));
  });
});

describe('keyset pagination', () => {
  for (const order of ['desc', 'asc'] as const) {
    it(`pages through every entry once, ${order}, across timestamp ties`, async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 200; page += 1) {
        const args = ['--db', databaseUrl(), '--table', schema.table(), 'list', '--limit', '7', '--order', order, '-o', 'ndjson'];
        const result = await runCli(cursor ? [...args, '--cursor', cursor] : args);
        expect(result.code).toBe(0);
        seen.push(...result.stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as AuditEntry).id));
        cursor = /--cursor (\S+)/.exec(result.stderr)?.[1];
        if (!cursor) break;
      }
      const all = await expected('true');
      expect(seen).toEqual(order === 'desc' ? all : [...all].reverse());
      expect(seen).toEqual(expect.arrayContaining(tieIds));
    });
  }
});
