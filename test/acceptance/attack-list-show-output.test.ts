import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import stringWidth from 'string-width';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli } from '../support/cli.js';
import { parseCsv } from '../support/csv.js';
import { createDefaultTable, createTestDatabase, createTestSchema, databaseUrl, insertRows, isEmbedded, type TestSchema } from '../support/database.js';
import { spawnInPty } from '../support/pty.js';
import { ndjsonIds, waitFor } from '../support/wait.js';

// H38: list's times, formats and show's answers through the built binary, against SQL: zones, DST, microsecond
// bounds, CSV and NDJSON framing, interrupted JSON, terminal tables with wide characters, show's odd ids and states.

let schema: TestSchema;
let dir: string;

const ROWS = [
  { id: 1, at: '2026-03-01T09:59:59.999999Z', operator: '=HYPERLINK("http://evil")', operation: 'UPDATE', resource_type: 'route', resource_id: 'r-1', resource_name: 'line1\r\nline2', source_ip: '10.0.0.1', source: 'api', before: { a: 'x,"y' }, after: null },
  { id: 2, at: '2026-03-01T10:00:00Z', operator: '+1', operation: 'update', resource_type: 'route', resource_id: 'r-2', resource_name: '-2', source_ip: '10.0.0.2', source: 'api', before: null, after: { s: 'a\u2028b\nc' } },
  { id: 3, at: '2026-03-01T10:00:00.000001Z', operator: '@sum', operation: 'delete', resource_type: 'ssl', resource_id: 's-1', resource_name: 'tab\there', source_ip: '2001:db8::1', source: 'adc' },
  { id: 4, at: '2026-03-29T00:30:00Z', operator: '日本語の名前です', operation: 'create', resource_type: 'route', resource_id: 'r-4', resource_name: '🙂🙂 emoji', source_ip: '10.0.0.4', source: 'dashboard' },
  { id: 5, at: '2026-10-25T00:30:00Z', operator: 'before-fallback', operation: 'update', resource_type: 'route', resource_id: 'r-5', source_ip: '10.0.0.5', source: 'api' },
  { id: 6, at: '2026-10-25T01:30:00Z', operator: 'after-fallback', operation: 'update', resource_type: 'route', resource_id: 'r-6', source_ip: '10.0.0.6', source: 'api' },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-h38-output-'));
  schema = await createTestSchema('acc_h38_output');
  await createDefaultTable(schema);
  await insertRows(schema, ROWS);
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env });
const idsOf = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const result = await run(['list', '--all', '--order', 'asc', '--output', 'ndjson', ...args], env);
  expect(result.code, result.stderr).toBe(0);
  return ndjsonIds(result.stdout);
};
const truth = async (where: string, values: unknown[] = []) =>
  (await schema.query<{ id: string }>(`select x.id::text as id from ${schema.table()} x where ${where} order by created_at, x.id`, values)).rows.map((row) => row.id);

describe('--since and --until against SQL', () => {
  it('offsets +14:00, -12:00, Z, none, a space, dates only: the same instants as PostgreSQL reads them', async () => {
    const bounds: [string, string][] = [
      ['2026-03-02T00:00:00+14:00', '2026-03-02T00:00:00+14:00'],
      ['2026-02-28T22:00:00-12:00', '2026-02-28T22:00:00-12:00'],
      ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z'],
      ['2026-03-01T10:00:00', '2026-03-01T10:00:00Z'],
      ['2026-03-01 10:00:00.000001', '2026-03-01T10:00:00.000001Z'],
      ['2026-03-01', '2026-03-01T00:00:00Z'],
      ['2026-03-01T23:00:00+1300', '2026-03-01T23:00:00+13:00'],
    ];
    for (const [flag, instant] of bounds) {
      // The client's zone changes nothing: a time without a zone is UTC.
      expect(await idsOf(['--since', flag], { TZ: 'Pacific/Kiritimati' }), flag).toEqual(await truth('created_at >= $1::timestamptz', [instant]));
      expect(await idsOf(['--until', flag], { TZ: 'America/Adak' }), flag).toEqual(await truth('created_at < $1::timestamptz', [instant]));
    }
  });

  it('--since is inclusive and --until exclusive to the microsecond', async () => {
    expect(await idsOf(['--since', '2026-03-01T10:00:00Z', '--until', '2026-03-01T10:00:00.000001Z'])).toEqual(['2']);
    expect(await idsOf(['--since', '2026-03-01T09:59:59.999999Z', '--until', '2026-03-01T10:00:00Z'])).toEqual(['1']);
    expect(await idsOf(['--since', '2026-03-01T10:00:00.000001Z', '--until', '2026-03-01T10:00:00.000002Z'])).toEqual(['3']);
  });

  it('relative durations (90m, 1w, 1.5h) against the database clock; future times match nothing; a reversed range is exit 2', async () => {
    const table = schema.table('recent');
    await schema.query(`create table ${table} (like ${schema.table()} including all)`);
    await schema.query(`insert into ${table} (id, created_at, operator, operation) values
      (1, now() - interval '8 days', 'a', 'u'), (2, now() - interval '6 days', 'a', 'u'), (3, now() - interval '100 minutes', 'a', 'u'),
      (4, now() - interval '80 minutes', 'a', 'u'), (5, now() - interval '1 minute', 'a', 'u'), (6, now() + interval '1 day', 'a', 'u')`);
    const list = async (...args: string[]) => ndjsonIds((await spawnCli(['--db', databaseUrl(), '--table', table, 'list', '--order', 'asc', '-o', 'ndjson', ...args])).stdout);
    expect(await list('--since', '90m')).toEqual(['4', '5', '6']);
    expect(await list('--since', '1w', '--until', '90m')).toEqual(['2', '3']);
    expect(await list('--since', '1.5h', '--until', '1m30s')).toEqual(['4']);
    expect(await list('--since', '2099-01-01')).toEqual([]);
    expect(await list('--since', '1d', '--until', '2099-01-01')).toEqual(['3', '4', '5', '6']);
    for (const [since, until] of [['2026-03-02', '2026-03-01'], ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z'], ['2026-03-01T12:00:00+02:00', '2026-03-01T09:00:00-01:00'], ['1d', '1w']]) {
      const result = await run(['list', '--since', since as string, '--until', until as string]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: empty range: --since .* is not before --until .*\n$/);
    }
    for (const bad of ['2026-03-01T24:00:00Z', '2026-02-30', '2026-03-01T10:00:00+16:00', '2026-03-01T10:00:00.1234567Z', '2026-03-01T10:00:00+14', '90']) {
      const result = await run(['list', '--since', bad]);
      expect(result.code, bad).toBe(2);
      expect(result.stderr.trimEnd().split('\n'), bad).toHaveLength(1);
      expect(result.stderr).toContain(`--since '${bad}'`);
    }
  });

  // A database whose sessions run in another zone needs a database of its own (ALTER DATABASE ... SET timezone).
  it.skipIf(isEmbedded())('a server whose session zone is Pacific/Kiritimati (+14) gives the same answers and times', async () => {
    const own = await createTestDatabase('h38_zone');
    try {
      const admin = new pg.Client({ connectionString: own.url });
      await admin.connect();
      const name = new URL(own.url).pathname.slice(1);
      await admin.query(`alter database ${name} set timezone to 'Pacific/Kiritimati'`);
      await admin.query(`create table zoned (id bigint primary key, created_at timestamptz not null, local_at timestamp not null, operator text, operation text, resource_type text, resource_id text, source_ip inet, before jsonb, after jsonb)`);
      await admin.query(`insert into zoned values (1, '2026-10-25T00:30:00Z', '2026-10-25T02:30:00', 'a', 'u'), (2, '2026-10-25T01:30:00Z', '2026-10-25T02:30:00', 'b', 'u'), (3, '2026-10-25T02:30:00Z', '2026-10-25T03:30:00', 'c', 'u')`);
      await admin.end();
      const result = await spawnCli(['--db', own.url, '--table', 'zoned', 'list', '--since', '2026-10-25T01:00:00Z', '--order', 'asc', '--fields', 'id,timestamp', '--json'], { env: { TZ: 'Europe/Berlin' } });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual([{ id: '2', timestamp: '2026-10-25T01:30:00.000000Z' }, { id: '3', timestamp: '2026-10-25T02:30:00.000000Z' }]);
      // A local-time column read in Europe/Berlin: the bounds are converted the way PostgreSQL converts them.
      const config = join(dir, 'zoned.yaml');
      await writeFile(config, 'table: zoned\ncolumns:\n  timestamp: { column: local_at, time_zone: Europe/Berlin }\n', { mode: 0o600 });
      const local = await spawnCli(['--db', own.url, '--config', config, 'list', '--since', '2026-10-25T02:00:00Z', '--order', 'asc', '--fields', 'id,timestamp', '--json']);
      expect(local.code, local.stderr).toBe(0);
      expect(JSON.parse(local.stdout)).toEqual([{ id: '3', timestamp: '2026-10-25T02:30:00.000000Z' }]);
    } finally {
      await own.drop();
    }
  });

  it('the table in Europe/Berlin: the hour repeated when summer time ends carries its offset; the skipped hour is plain', async () => {
    // Found by H38: 00:30Z and 01:30Z both showed as 2026-10-25 02:30:00, one moment to the reader.
    const result = await run(['list', '--since', '2026-03-29', '--until', '2026-10-26', '--local', '--fields', 'id,timestamp,operator'], { TZ: 'Europe/Berlin' });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TIME \(Europe\/Berlin\)\s+OPERATOR$/);
    expect(lines.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 2))).toEqual([
      ['6', '2026-10-25 02:30:00+01:00'],
      ['5', '2026-10-25 02:30:00+02:00'],
      ['4', '2026-03-29 01:30:00'],
    ]);
  });
});

describe('formats', () => {
  it('CSV is RFC 4180 (quotes, CRLF and tabs inside values), equal field by field to JSON; formula prefixes are kept as data', async () => {
    const csv = await run(['list', '--all', '--order', 'asc', '--output', 'csv']);
    const json = await run(['list', '--all', '--order', 'asc', '--output', 'json']);
    expect(csv.code, csv.stderr).toBe(0);
    const entries = JSON.parse(json.stdout) as Record<string, unknown>[];
    const [header, ...rows] = parseCsv(csv.stdout);
    expect(rows).toHaveLength(entries.length);
    expect(csv.stdout.endsWith('\r\n')).toBe(true);
    // Outside quoted fields every line ends in CRLF: no bare LF splits a record.
    expect(csv.stdout.replace(/"(?:[^"]|"")*"/g, '').match(/(?<!\r)\n/g)).toBeNull();
    rows.forEach((row, index) => {
      const entry = entries[index] as Record<string, unknown>;
      (header ?? []).forEach((field, column) => {
        const value = entry[field];
        expect(row[column], `${String(entry.id)}.${field}`).toBe(value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));
      });
    });
    // The exact data, not a spreadsheet-safe copy (README: open the file as text).
    expect(rows.map((row) => row[2])).toEqual(expect.arrayContaining(['=HYPERLINK("http://evil")', '+1', '@sum']));
  });

  it('NDJSON is one entry per line, also with CR, LF and U+2028 inside values, on both paths (whole entries, --fields)', async () => {
    for (const extra of [[], ['--fields', 'id,resource_name,after']]) {
      const result = await run(['list', '--all', '--output', 'ndjson', ...extra]);
      const lines = result.stdout.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toHaveLength(ROWS.length);
      expect(result.stdout).not.toContain('\r');
      const entries = lines.map((line) => JSON.parse(line) as { resource_name: unknown; after: unknown });
      expect(entries.map((entry) => entry.after)).toContainEqual({ s: 'a\u2028b\nc' });
      expect(entries.map((entry) => entry.resource_name)).toContain('line1\r\nline2');
    }
  });

  it('--fields: duplicates once, unknown or empty names exit 2 in one line; --jq: a broken program exit 2, a failing one exit 1', async () => {
    expect(JSON.parse((await run(['list', '--fields', 'id,ID,id', '--json', '--limit', '1'])).stdout)).toEqual([{ id: '6' }]);
    for (const fields of ['id,nope', 'id,,operator', ',', 'resource']) {
      const result = await run(['list', '--fields', fields, '--json']);
      expect(result.code, fields).toBe(2);
      expect(result.stderr.trimEnd().split('\n'), fields).toHaveLength(1);
      expect(result.stderr, fields).toContain(`invalid --fields '${fields}'`);
    }
    const broken = await run(['list', '--jq', '.[] | select(']);
    expect(broken.code).toBe(2);
    expect(broken.stderr.trimEnd().split('\n')).toHaveLength(1);
    const failing = await run(['list', '--jq', '.[] | .id + 1']);
    expect(failing.code).toBe(1);
    expect(failing.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(failing.stderr).not.toMatch(/\n\s+at /);
  });

  it('a terminal 60 columns wide: every line fits, CJK and emoji counted as two columns, SOURCE IP aligned', async () => {
    for (const cols of [60, 200]) {
      const result = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'list', '--no-pager', '--no-color'], { cols });
      expect(result.code, result.output).toBe(0);
      const lines = result.output.replace(/\r/g, '').split('\n').filter((line) => /^(ID|\d)\s/.test(line));
      expect(lines).toHaveLength(ROWS.length + 1);
      for (const line of lines) expect(stringWidth(line), line).toBeLessThanOrEqual(cols);
      // Where the SOURCE IP column starts, by display width, is the same on every line.
      const starts = lines.slice(1).map((line) => stringWidth(line.slice(0, line.search(/(10\.0\.0\.\d|2001:db8::1)/))));
      expect(new Set(starts).size, lines.join('\n')).toBe(1);
      if (cols === 200) expect(lines.join('\n')).toContain('日本語の名前です');
    }
  });
});

describe('what an interrupted JSON listing leaves', () => {
  it('Ctrl-C mid-stream: exit 130, one line; stdout is whole entries in an unclosed array, so a JSON reader fails rather than take a part for the whole', async () => {
    const table = schema.table('many');
    await schema.query(`create table ${table} (like ${schema.table()} including all)`);
    await schema.query(`insert into ${table} (id, created_at, operator, operation, before)
      select g, timestamptz '2026-01-01' + g * interval '1 ms', 'op', 'update', jsonb_build_object('pad', repeat('x', 400)) from generate_series(1, 150000) g`);
    for (const extra of [[], ['--fields', 'id,before']]) {
      const running = startCli(['--db', databaseUrl(), '--table', table, 'list', '--all', '--output', 'json', ...extra], { timeoutMs: 60_000 });
      await waitFor(() => running.stdout().length > 300_000 || running.exited(), 30_000, 'output to start');
      running.child.kill('SIGINT');
      const result = await running.result;
      expect(result.code, result.stderr).toBe(130);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(() => JSON.parse(result.stdout)).toThrow();
      const lines = result.stdout.split('\n').filter((line) => line !== '');
      expect(lines[0]).toBe('[');
      // Entries before the last are whole (the last can be cut: main.ts exits at once, see the H38 report).
      for (const line of lines.slice(1, -1)) expect(() => JSON.parse(line.replace(/,$/, ''))).not.toThrow();
      expect(lines.length).toBeLessThan(150_000);
    }
  });
});

describe('show', () => {
  beforeAll(async () => {
    const deep = (depth: number): unknown => (depth === 0 ? 'leaf' : { d: deep(depth - 1) });
    await insertRows(schema, [
      { id: 100, at: '2026-05-01T00:00:00Z', operator: 'x', operation: 'update', resource_type: 'route', resource_id: 'r-100', before: { nodes: ['a', 'b', 'c', 'd'], keep: 1 }, after: { nodes: ['d', 'c', 'b', 'a'], keep: 1 } },
      { id: 101, at: '2026-05-01T00:00:01Z', operator: 'x', operation: 'update', resource_type: 'route', resource_id: 'r-101', before: deep(300), after: deep(299) },
    ]);
  });

  it('an unknown id is exit 1 naming it; ids the column cannot hold are exit 2; one line each, nothing on stdout', async () => {
    const cases: [string, number, RegExp][] = [
      ['99999', 1, /no audit entry with id '99999'/],
      ['-1', 1, /no audit entry with id '-1'/],
      ['abc', 2, /invalid id 'abc'/],
      ['1e3', 2, /invalid id '1e3'/],
      ['99999999999999999999', 2, /invalid id '99999999999999999999'/],
      [' 1', 2, /invalid id ' 1'/],
      ['', 2, /invalid id ''/],
    ];
    for (const [id, code, message] of cases) {
      const result = await run(['show', id, '--output', 'json']);
      expect(result.code, id).toBe(code);
      expect(result.stdout, id).toBe('');
      expect(result.stderr.trimEnd().split('\n'), id).toHaveLength(1);
      expect(result.stderr, id).toMatch(message);
    }
  });

  it('null before or after: the diff is all additions or all removals; --output json keeps null', async () => {
    const created = await run(['show', '2', '--no-color']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^@@ -0,0 \+1,\d+ @@$/m);
    expect(created.stdout).not.toMatch(/^-[^-]/m);
    const json = JSON.parse((await run(['show', '2', '--output', 'json'])).stdout) as { before: unknown; after: unknown };
    expect(json.before).toBeNull();
    expect(json.after).toEqual({ s: 'a\u2028b\nc' });
    const deleted = await run(['show', '1', '--no-color']);
    expect(deleted.stdout).toMatch(/^@@ -1,\d+ \+0,0 @@$/m);
    const neither = await run(['show', '3', '--no-color']);
    expect(neither.stdout).toContain('(no changes)');
  });

  it('a reordered array shows each moved element, not a rewrite of the document; deep nesting prints and --output json parses', async () => {
    const moved = await run(['show', '100', '--no-color']);
    expect(moved.code, moved.stderr).toBe(0);
    const changed = moved.stdout.split('\n').filter((line) => /^[-+]\s/.test(line));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(8);
    expect(moved.stdout).not.toMatch(/^[-+]\s+"keep"/m);
    const leafOf = (stdout: string): [number, unknown] => {
      let node = (JSON.parse(stdout) as { before: unknown }).before;
      let depth = 0;
      while (typeof node === 'object' && node !== null && depth < 1000) {
        node = (node as { d: unknown }).d;
        depth += 1;
      }
      return [depth, node];
    };
    const deep = await run(['show', '101', '--output', 'json', '--show-secrets']);
    expect(deep.code, deep.stderr).toBe(0);
    expect(leafOf(deep.stdout)).toEqual([300, 'leaf']);
    // Masking fails closed past 200 levels (README, Secrets): the rest is "******", still valid JSON.
    expect(leafOf((await run(['show', '101', '--output', 'json'])).stdout)).toEqual([201, '******']);
    expect((await run(['show', '101', '--no-color'])).code).toBe(0);
  });

  it('a text state that is not JSON, through a config file: show prints it marked, list too, nothing fails', async () => {
    const table = schema.table('text_states');
    await schema.query(`create table ${table} (id bigint primary key, created_at timestamptz not null, operator text, operation text, resource_type text, resource_id text, source_ip inet, before text, after text)`);
    await schema.query(`insert into ${table} values (1, '2026-05-01', 'x', 'update', 'route', 'r', null, '{"a": 1', '{"a": 1, "a": 2}'), (2, '2026-05-02', 'x', 'update', 'route', 'r', null, '', 'null')`);
    const config = join(dir, 'text-states.yaml');
    await writeFile(config, `table: ${table}\n`, { mode: 0o600 });
    for (const id of ['1', '2']) {
      const json = await spawnCli(['--db', databaseUrl(), '--config', config, 'show', id, '--output', 'json']);
      expect(json.code, json.stderr).toBe(0);
      expect(() => JSON.parse(json.stdout) as unknown).not.toThrow();
      const text = await spawnCli(['--db', databaseUrl(), '--config', config, 'show', id, '--no-color']);
      expect(text.code, text.stderr).toBe(0);
    }
    const shown = JSON.parse((await spawnCli(['--db', databaseUrl(), '--config', config, 'show', '1', '--output', 'json'])).stdout) as { before: unknown };
    expect(shown.before).toEqual({ $api7_audit: 'invalid_json', raw: '{"a": 1' });
    const listed = await spawnCli(['--db', databaseUrl(), '--config', config, 'list', '--output', 'ndjson']);
    expect(ndjsonIds(listed.stdout)).toEqual(['2', '1']);
  });
});
