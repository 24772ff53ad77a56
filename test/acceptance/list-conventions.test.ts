import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { spawnInPty } from '../support/pty.js';

// issue 15 through the built binary: field selection, jq, honest cursors, one grammar, warnings, zones, the pager.

let schema: TestSchema;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-conv-'));
  schema = await createTestSchema('acc_conv');
  await createDefaultTable(schema);
  await insertRows(schema, [
    { at: '2026-01-10T10:00:00Z', operator: 'alice', operation: 'UPDATE', resource_type: 'route', resource_id: 'r-1', resource_name: 'orders', source_ip: '10.0.0.1', source: 'api' },
    { at: '2026-01-10T11:00:00Z', operator: 'bob', operation: 'DELETE', resource_type: 'route', resource_id: 'r-2', resource_name: 'payments', source_ip: '10.0.0.2', source: 'dashboard' },
    { at: '2026-01-10T12:00:00Z', operator: 'carol', operation: 'CREATE', resource_type: 'service', resource_id: 's-1', resource_name: 'billing', source_ip: '10.0.0.3', source: 'adc' },
    { at: '2026-01-10T13:00:00Z', operator: 'dave', operation: 'UPDATE', resource_type: 'route', resource_id: 'r-1', resource_name: 'orders', source_ip: '10.0.0.4', source: 'api' },
  ]);
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const list = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list', ...args]);
const ids = (stdout: string) => (JSON.parse(stdout) as { id: string }[]).map((entry) => entry.id);

describe('--fields and --jq', () => {
  it('json, ndjson and csv carry only the fields asked for; the table shows only those columns', async () => {
    const json = await list('--fields', 'id,operator', '--json', '--order', 'asc');
    expect(JSON.parse(json.stdout)).toEqual([{ id: '1', operator: 'alice' }, { id: '2', operator: 'bob' }, { id: '3', operator: 'carol' }, { id: '4', operator: 'dave' }]);
    expect((await list('--fields', 'operator', '-o', 'csv', '--limit', '1')).stdout).toBe('operator\r\ndave\r\n');
    expect((await list('--fields', 'operator', '-o', 'ndjson', '--limit', '1')).stdout).toBe('{"operator":"dave"}\n');
    const table = await list('--fields', 'id,resource,resource_id', '--limit', '1');
    expect(table.stdout).toMatch(/^ID\s+RESOURCE\s+RESOURCE ID\n4\s+route:orders\s+r-1\n$/);
    const bad = await list('--fields', 'id,user');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid --fields 'id,user': user is not a table column; use id,timestamp,operator");
    expect((await list('--fields', 'resource', '--json')).stderr).toContain("invalid --fields 'resource': resource is not an entry field");
  });

  it('--jq filters the JSON with jq, strings raw; a broken expression is exit 2 before connecting', async () => {
    const result = await list('--jq', '[.[] | select(.operation == "UPDATE") | .operator] | join(",")');
    expect(result).toMatchObject({ code: 0, stdout: 'dave,alice\n' });
    const broken = await spawnCli(['--db', 'postgres://nobody@127.0.0.1:1/none', 'list', '--jq', '.[] |']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: invalid --jq '\.\[\] \|': syntax error/);
    expect((await list('--jq', '.', '--output', 'csv')).stderr).toContain('--jq works on JSON output: it cannot be used with --output csv');
  });
});

describe('cursors', () => {
  it('--with-cursor prints {"entries", "next_cursor"}; the cursor continues the same listing exactly', async () => {
    const first = JSON.parse((await list('--limit', '2', '--with-cursor', '--source', 'api', '--source', 'dashboard', '--source', 'adc')).stdout) as { entries: { id: string }[]; next_cursor: string };
    expect(first.entries.map((entry) => entry.id)).toEqual(['4', '3']);
    const second = JSON.parse((await list('--limit', '2', '--with-cursor', '--source', 'ADC', '--source', 'api', '--source', 'dashboard', '--cursor', first.next_cursor)).stdout) as { entries: { id: string }[]; next_cursor: string | null };
    expect(second).toEqual({ entries: [expect.objectContaining({ id: '2' }), expect.objectContaining({ id: '1' })], next_cursor: null });
  });

  it('a cursor used with another order or other filters is exit 2 naming what differs', async () => {
    const page = JSON.parse((await list('--limit', '1', '--with-cursor', '--operator', 'dave')).stdout) as { next_cursor: string | null };
    const first = JSON.parse((await list('--limit', '1', '--with-cursor')).stdout) as { next_cursor: string };
    expect(page.next_cursor).toBeNull();
    const asc = await list('--order', 'asc', '--cursor', first.next_cursor);
    expect(asc.code).toBe(2);
    expect(asc.stdout).toBe('');
    expect(asc.stderr).toContain('--cursor was made for another listing (--order (made for desc, given asc))');
    const filtered = await list('--operator', 'alice', '--cursor', first.next_cursor);
    expect(filtered.code).toBe(2);
    expect(filtered.stderr).toContain('--operator (not given then)');
  });
});

describe('one grammar, strict where it matters', () => {
  it.each([
    [['--limit', '5', '--all'], "option '-n, --limit <n>' cannot be used with option '--all'"],
    [['--since', '1d', '--until', '7d'], 'empty range: --since 1d is not before --until 7d'],
    [['--since', '7'], "invalid --since '7': a duration needs a unit, such as 7s, 7m, 7h or 7d"],
  ])('list %j is exit 2: %s', async (args, message) => {
    const result = await list(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('durations: 2h30m, 1.5h and 7D are accepted; a bare --max-duration is refused with a hint', async () => {
    for (const since of ['2h30m', '1.5h', '7D']) expect((await list('--since', since)).code).toBe(0);
    const prune = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'prune', '--dry-run', '--max-duration', '45']);
    expect(prune.code).toBe(2);
    expect(prune.stderr).toContain("invalid --max-duration '45': a duration needs a unit, such as 45s, 45m");
  });

  it('--source and --resource types are case-insensitive; an unknown value warns, listing the known ones', async () => {
    expect(ids((await list('--source', 'API', '--json')).stdout)).toEqual(['4', '1']);
    expect(ids((await list('--resource', 'SERVICE', '--json')).stdout)).toEqual(['3']);
    const unknown = await list('--source', 'terraform', '--json');
    expect(unknown).toMatchObject({ code: 0, stdout: '[]\n' });
    expect(unknown.stderr).toContain("warning: --source 'terraform' is not one of the known values (dashboard, api, adc)");
  });

  it('--resource TYPE:NAME, as the table shows it, finds the resource; TYPE:ID still does', async () => {
    const table = await list('--limit', '1');
    expect(table.stdout).toContain('route:orders');
    const byName = await list('--resource', 'route:orders', '--json');
    expect(ids(byName.stdout)).toEqual(['4', '1']);
    expect(byName.stderr).toContain('route:orders is the name of route:r-1');
    const byId = await list('--resource', 'route:r-1', '--json');
    expect(ids(byId.stdout)).toEqual(['4', '1']);
    expect(byId.stderr).not.toContain('is the name of');
    // A name is looked up only when no entry has it as an id, so the filter stays one the resource index serves.
    expect(ids((await list('--resource', 'route:payments', '--resource', 'service:s-1', '--json')).stdout)).toEqual(['3', '2']);
    expect((await list('--resource', 'route:nothing-called-this', '--json')).stdout).toBe('[]\n');
  });
});

describe('times', () => {
  it('the TIME header says UTC; --local and API7_AUDIT_TZ show another zone; JSON stays UTC', async () => {
    expect((await list('--limit', '1')).stdout).toMatch(/^ID\s+TIME \(UTC\)\s+.*\n4\s+2026-01-10 13:00:00\s/);
    const local = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--limit', '1', '--local'], { env: { TZ: 'Asia/Tokyo' } });
    expect(local.stdout).toMatch(/^ID\s+TIME \(Asia\/Tokyo\)\s+.*\n4\s+2026-01-10 22:00:00\s/);
    const named = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list', '--limit', '1', '--json'], { env: { API7_AUDIT_TZ: 'Asia/Tokyo' } });
    expect(JSON.parse(named.stdout)[0].timestamp).toBe('2026-01-10T13:00:00.000000Z');
    const bad = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list'], { env: { API7_AUDIT_TZ: 'Mars/Olympus' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid API7_AUDIT_TZ 'Mars/Olympus'");
  });
});

describe('the pager, on a real terminal', () => {
  const pagerScript = async () => {
    const got = join(dir, `paged-${Math.random().toString(36).slice(2)}.txt`);
    const pager = join(dir, 'fake-pager.sh');
    await writeFile(pager, `#!/bin/sh\ncat > "$PAGED_TO"\necho "LESS=$LESS" >> "$PAGED_TO"\n`);
    await chmod(pager, 0o755);
    return { got, pager };
  };

  it('PAGER receives the table (with LESS=FRX); API7_AUDIT_PAGER wins; --no-pager and a pipe skip it', async () => {
    const { got, pager } = await pagerScript();
    const paged = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'list'], { env: { PAGER: pager, PAGED_TO: got } });
    expect(paged.code).toBe(0);
    const text = await readFile(got, 'utf8');
    expect(text).toMatch(/TIME \(UTC\)/);
    expect(text).toContain('carol');
    expect(text).toContain('LESS=FRX');
    expect(paged.output).not.toContain('carol');

    const viaOwn = await pagerScript();
    await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'list'], { env: { PAGER: '/bin/false', API7_AUDIT_PAGER: viaOwn.pager, PAGED_TO: viaOwn.got } });
    expect(await readFile(viaOwn.got, 'utf8')).toContain('carol');

    for (const [args, env] of [[['--no-pager'], { PAGER: pager }], [[], { PAGER: pager, API7_AUDIT_PAGER: '' }]] as const) {
      const direct = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'list', ...args], { env: { ...env, PAGED_TO: join(dir, 'never.txt') } });
      expect(direct.output).toContain('carol');
    }
    const piped = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'list'], { env: { PAGER: pager, PAGED_TO: join(dir, 'never.txt') } });
    expect(piped.stdout).toContain('carol');
    await expect(readFile(join(dir, 'never.txt'))).rejects.toThrow();
  });

  it('TERM=dumb and NO_COLOR mean no colour on a terminal', async () => {
    for (const env of [{ TERM: 'dumb' }, { NO_COLOR: '1' }]) {
      const result = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'list', '--no-pager'], { env });
      expect(result.output).toContain('DELETE');
      expect(result.output).not.toContain('\u001b[');
    }
    const coloured = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'list', '--no-pager'], { env: { TERM: 'xterm' } });
    expect(coloured.output).toContain('\u001b[');
    // --no-color beats even FORCE_COLOR, after the command as before it.
    for (const argv of [['--no-color', 'list'], ['list', '--no-color']]) {
      const result = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), ...argv, '--no-pager'], { env: { TERM: 'xterm', FORCE_COLOR: '1' } });
      expect(result.output).toContain('DELETE');
      expect(result.output).not.toContain('\u001b[');
    }
  });
});

describe('prune speaks one voice', () => {
  it('-q prints nothing but errors; --output json is --json; --quiet with a JSON summary is refused', async () => {
    const own = await createTestSchema('acc_conv_prune');
    try {
      await createDefaultTable(own);
      const old = Array.from({ length: 3 }, () => ({ age: '40 days', operator: 'alice', operation: 'UPDATE', resource_type: 'route', resource_id: 'r-1' }));
      await insertRows(own, [...old, ...old]);
      const prune = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', own.table(), 'prune', '--retention-days', '30', ...args]);
      const json = await prune('--dry-run', '--output', 'json');
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ dry_run: true, matched: 6 });
      const quiet = await prune('-q', '--yes', '--batch-size', '1');
      expect(quiet).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect((await own.query('select count(*)::int as n from audit_logs'.replace('audit_logs', own.table()))).rows[0]).toEqual({ n: 0 });
      const both = await prune('-q', '--json');
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('--quiet conflicts with --output json');
      await insertRows(own, [old[0] ?? {}]);
      const one = await prune('--yes');
      expect(one.stdout).toContain('Deleted 1 of 1 entry before the cutoff');
      expect(one.stdout).toContain(' in 1 batch (');
    } finally {
      await own.drop();
    }
  });
});

describe('export speaks the same way', () => {
  const exportCli = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--settle', '0', ...args]);
  it('-q keeps the entries of --out - and nothing else; -o json is --json; a dry run says "Dry run:" with plurals', async () => {
    const quiet = await exportCli('--out', '-', '-q', '--source', 'Terraform');
    expect(quiet).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const all = await exportCli('--out', '-', '-q');
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split('\n')).toHaveLength(4);
    expect(all.stderr).toBe('');
    const json = await exportCli('--out', join(dir, 'export.ndjson'), '-o', 'json');
    expect(JSON.parse(json.stdout)).toMatchObject({ exported: 4 });
    const dry = await exportCli('--out', join(dir, 'dry.ndjson'), '--dry-run', '--operator', 'bob');
    expect(dry.stderr).toContain('Dry run: nothing sent. 1 entry would be exported to');
    const warned = await exportCli('--out', join(dir, 'w.ndjson'), '--source', 'terraform');
    expect(warned.stderr).toContain("warning: --source 'terraform' is not one of the known values");
    expect(warned.stderr).toMatch(/exported 0 entries to .* \(0\/s\), 0 batches, 0 retries, 0 duplicates/);
  });
});
