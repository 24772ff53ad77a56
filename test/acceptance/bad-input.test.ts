import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

/** Values PostgreSQL would refuse in a cast: each must be a usage error naming it, before any query fails. */
let schema: TestSchema;
let dir: string;
const cli = (argv: string[], db = databaseUrl()): Promise<CliResult> => spawnCli(['--db', db, '--table', schema.table(), ...argv]);
const cursor = (timestamp: string, id: string) => Buffer.from(JSON.stringify([timestamp, id])).toString('base64url');

beforeAll(async () => {
  schema = await createTestSchema('badinput');
  await createDefaultTable(schema);
  await insertRows(schema, [{ age: '400 days', operator: 'alice' }, { age: '1 hour', operator: 'bob' }]);
  dir = await mkdtemp(join(tmpdir(), 'api7-badinput-'));
});
afterAll(async () => {
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** Exit 2, nothing on stdout, one line on stderr that holds every one of `names` (the flag or file, the value). */
function expectUsageLine(result: CliResult, ...names: string[]): void {
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
  for (const name of names) expect(result.stderr).toContain(name);
  expect(result.code).toBe(2);
}

describe('a cursor the table cannot hold', () => {
  it('with a non-numeric id for a bigint id column: names --cursor and the id', async () => {
    const value = cursor('2026-01-01T00:00:00.000000Z', "1' or 'x");
    expectUsageLine(await cli(['list', '--cursor', value]), `invalid --cursor '${value}'`, `"1' or 'x"`, 'whole numbers');
    expectUsageLine(await cli(['list', '--cursor', cursor('2026-01-01T00:00:00.000000Z', 'abc'), '--output', 'json']), '--cursor', '"abc"');
  });

  it('with a time PostgreSQL refuses (an offset of 24 h, a 31st of February)', async () => {
    for (const time of ['2026-01-01T00:00:00+23:59', '2026-02-31T00:00:00.000000Z']) {
      const value = cursor(time, '1');
      expectUsageLine(await cli(['list', '--cursor', value]), `invalid --cursor '${value}'`);
    }
  });

  it('still pages with a good cursor', async () => {
    const first = await cli(['list', '--limit', '1']);
    expect(first.code).toBe(0);
    const next = /--cursor (\S+)/.exec(first.stderr)?.[1] ?? '';
    const second = await cli(['list', '--cursor', next, '--output', 'json']);
    expect(second.code).toBe(0);
    expect((JSON.parse(second.stdout) as { operator: string }[]).map((entry) => entry.operator)).toEqual(['alice']);
  });
});

describe('a checkpoint the table cannot hold', () => {
  it('export --checkpoint: names the file and the id, sends nothing', async () => {
    const checkpoint = join(dir, 'other-table.json');
    await writeFile(checkpoint, JSON.stringify({ version: 1, timestamp: '2026-01-01T00:00:00.000000Z', id: 'evt-42' }));
    const out = join(dir, 'out.ndjson');
    expectUsageLine(await cli(['export', '--out', out, '--checkpoint', checkpoint]), `checkpoint file ${checkpoint}`, '"evt-42"', 'whole numbers');
    const written = await stat(out).then((info) => info.size, () => 0);
    expect(written).toBe(0);
    expect(JSON.parse(await readFile(checkpoint, 'utf8'))).toMatchObject({ id: 'evt-42' });
  });

  it('prune --only-exported: names the flag and the id, deletes nothing', async () => {
    const checkpoint = join(dir, 'exported.json');
    const file = {
      version: 2, timestamp: '2030-01-01T00:00:00.000000Z', id: 'evt-42', updated_at: '2026-01-01T00:00:00Z',
      destination: 'file', filters: {}, late_commit_guard: 'open-transactions',
    };
    await writeFile(checkpoint, JSON.stringify(file));
    const result = await cli(['prune', '--only-exported', checkpoint, '--retention-days', '30', '--yes']);
    expectUsageLine(result, '--only-exported', '"evt-42"');
    const { rows } = await schema.query<{ count: string }>(`select count(*) from ${schema.table()}`);
    expect(rows[0]?.count).toBe('2');
  });
});

describe('filters PostgreSQL would refuse', () => {
  it('--ip with an IPv6 zone id: names it and says what to use', async () => {
    expectUsageLine(await cli(['list', '--ip', 'fe80::1%eth0']), "invalid --ip 'fe80::1%eth0'", 'use --ip fe80::1');
    expectUsageLine(await cli(['export', '--out', join(dir, 'x.ndjson'), '--ip', 'fe80::1%25/64']), "invalid --ip 'fe80::1%25/64'", 'use --ip fe80::1/64');
  });

  it("a duration in 'M' (months to some readers, minutes to others) is refused with what to write", async () => {
    expectUsageLine(await cli(['list', '--since', '6M']), "invalid --since '6M'", 'write 180d for about 6 months', 'lower-case m (6m)');
    expectUsageLine(await cli(['follow', '--for', '1M']), "invalid --for '1M'", 'lower-case m (1m)');
  });

  it('--since and --until with an offset of 16 h or more, a rolled-over date, a duration past 1000 years', async () => {
    const cases: [string, string][] = [
      ['--since', '2026-01-01T00:00:00+23:59'],
      ['--until', '2026-01-01T00:00:00-16:00'],
      ['--since', '2026-02-31T00:00:00+01:00'],
      ['--since', '999999999w'],
      ['--until', '99999999d'],
    ];
    const results = await Promise.all(cases.map(([flag, value]) => cli(['list', flag, value])));
    cases.forEach(([flag, value], index) => expectUsageLine(results[index] as CliResult, `invalid ${flag} '${value}'`));
    // The largest offset PostgreSQL takes, a long but possible duration, and year 0 (1 BC, as the output prints it
    // since timestamps outside years 1-9999 take ISO 8601's expanded form) work.
    for (const value of ['2026-01-01T00:00:00+15:59', '52000w', '0000-01-01']) {
      const ok = await cli(['list', '--since', value, '--output', 'json']);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
    }
  });
});

describe('table names', () => {
  it('a schema whose name holds a dot, dotted or quoted as psql would: one line naming it', async () => {
    expectUsageLine(await spawnCli(['--db', databaseUrl(), '--table', 'my.schema.audit_logs', 'list']), "'my.schema.audit_logs'", 'double-quoted');
    expectUsageLine(await spawnCli(['--db', databaseUrl(), '--table', '"my.schema".audit_logs', 'list']), `'"my.schema".audit_logs'`, 'schema name "my.schema" holds a dot');
    expectUsageLine(await spawnCli(['--db', databaseUrl(), '--table', '"unterminated.audit_logs', 'list']), `'"unterminated.audit_logs'`);
  });

  it('psql quoting names a table with other characters', async () => {
    await schema.query(`create table ${schema.name}."Audit Log-2" (like ${schema.table()} including all)`);
    await schema.query(`insert into ${schema.name}."Audit Log-2" select * from ${schema.table()}`);
    const result = await spawnCli(['--db', databaseUrl(), '--table', `"${schema.name}"."Audit Log-2"`, 'list', '--output', 'json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toHaveLength(2);
  });

  // The embedded server takes no startup options, so search_path cannot be set from the connection URL there.
  it.skipIf(isEmbedded())('a schema with a dot found through search_path: one line naming it, not a broken query', async () => {
    const dotted = `${schema.name}.dotted`;
    await schema.query(`create schema "${dotted}"`);
    try {
      await schema.query(`create table "${dotted}".audit_logs (like ${schema.table()} including all)`);
      const url = new URL(databaseUrl());
      url.searchParams.set('options', `-c search_path="${dotted}"`);
      const result = await spawnCli(['--db', url.toString(), '--table', 'audit_logs', 'list']);
      expectUsageLine(result, "cannot query table 'audit_logs'", `schema name "${dotted}" holds a dot`);
    } finally {
      await schema.query(`drop schema "${dotted}" cascade`);
    }
  });
});

describe('an empty value (a shell variable that was not set)', () => {
  it.each([
    [['--db', '', 'list'], "--db ''"],
    [['export', '--out', ''], "--out ''"],
    [['export', '--out', join('x', 'f.ndjson'), '--checkpoint', ''], "--checkpoint ''"],
    [['export', '--hec-url', ''], "--hec-url ''"],
    [['prune', '--archive', '', '--dry-run'], "--archive ''"],
    [['--config', '', 'list'], "--config ''"],
    [['list', '--fields', ''], "--fields ''"],
  ])('%j is one line naming the flag, exit 2, and nothing runs', async (argv, name) => {
    // --db '' comes after the test's own --db: the last one given is the one used.
    expectUsageLine(await spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...argv], { cwd: dir }), name);
  });
});

describe('prune --dry-run previews the real run', () => {
  it('an --archive in a directory that does not exist is the same one line and exit 2 as without --dry-run', async () => {
    const archive = join(dir, 'no-such-dir', 'archive.ndjson');
    const real = await cli(['prune', '--retention-days', '30', '--yes', '--archive', archive]);
    const dry = await cli(['prune', '--retention-days', '30', '--dry-run', '--archive', archive]);
    expectUsageLine(dry, archive, 'does not exist');
    expect(dry.stderr).toBe(real.stderr);
  });
});

describe('control characters in a bad value', () => {
  it('reach the terminal as escapes, never raw (an OSC sequence would retitle it)', async () => {
    const result = await cli(['list', '--since', '\u001b]0;retitled\u0007\u202e']);
    expectUsageLine(result, "'\\u001b]0;retitled\\u0007\\u202e'");
    expect([...result.stderr.slice(0, -1)].filter((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f') || c === '\u202e')).toEqual([]);
  });
});
