import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { spawnCli } from '../support/cli.js';
import { AUDIT_SHAPES } from '../support/audit-shapes.js';
import { createTestDatabase, createTestSchema, isEmbedded, type TestSchema } from '../support/database.js';

const ROWS = 400;
let db: { url: string; drop(): Promise<void> };
let dir: string;
const schemas = new Map<string, TestSchema>();

// A database of its own whose TimeZone is Europe/Berlin: init takes a `timestamp without time zone` to hold local
// time in the server's zone, and one shape (audit_trail) was written so.
beforeAll(async () => {
  db = await createTestDatabase('init');
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-init-'));
  const admin = await createTestSchema('initadm', db.url);
  const name = new URL(db.url).pathname.slice(1);
  if (!isEmbedded()) await admin.query(`alter database ${name} set timezone to 'Europe/Berlin'`);
  await admin.drop();
  for (const shape of AUDIT_SHAPES) {
    const schema = await createTestSchema('shape', db.url);
    await shape.create(schema, ROWS);
    await schema.query(`analyze ${schema.name}.${shape.table === 'audit_view' ? 'raw_audit' : shape.table}`);
    schemas.set(shape.table, schema);
  }
}, 60_000);
afterAll(async () => {
  for (const schema of schemas.values()) await schema.drop();
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

const ndjson = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);

async function truth(table: string): Promise<AuditEntry[]> {
  const shape = AUDIT_SHAPES.find((s) => s.table === table);
  const schema = schemas.get(table) as TestSchema;
  return (await schema.query<{ e: AuditEntry }>(shape?.truth(schema.name) ?? '')).rows.map((row) => row.e);
}

describe.skipIf(isEmbedded())('init on five table shapes, then list, show and export through the written config', () => {
  it.each(AUDIT_SHAPES.map((shape) => [shape.name, shape.table] as const))('%s', async (_name, table) => {
    const schema = schemas.get(table) as TestSchema;
    const config = join(dir, `${table}.yaml`);
    const init = await spawnCli(['--db', db.url, 'init', '--schema', schema.name, '--yes', '--config', config]);
    expect(init.stderr).toContain(`wrote ${config}`);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`Proposed: ${schema.name}.${table}`);
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    const expected = await truth(table);

    const listed = await spawnCli(['--db', db.url, '--config', config, 'list', '--all', '-o', 'ndjson']);
    expect(listed.stderr).toBe('');
    expect(ndjson(listed.stdout)).toEqual(expected);

    const bob = await spawnCli(['--db', db.url, '--config', config, 'list', '--all', '-o', 'ndjson', '--operator', 'bob', '--resource', 'route']);
    expect(ndjson(bob.stdout).map((e) => e.id)).toEqual(expected.filter((e) => e.operator === 'bob' && e.resource_type === 'route').map((e) => e.id));

    const one = expected[7] as AuditEntry;
    const shown = await spawnCli(['--db', db.url, '--config', config, 'show', one.id, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject(one);

    const out = join(dir, `${table}.ndjson`);
    const exported = await spawnCli(['--db', db.url, '--config', config, 'export', '--settle', '0', '--out', out, '--json']);
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ exported: ROWS });
    expect(ndjson(await readFile(out, 'utf8'))).toEqual([...expected].reverse());
  });

  it('proposes the local time zone, the epoch unit, the users lookup and the split resource it found', async () => {
    const written = (table: string) => readFile(join(dir, `${table}.yaml`), 'utf8');
    expect(await written('audit_trail')).toMatch(/time_zone: Europe\/Berlin[\s\S]*resource_type: "lower\(split_part\(resource, ': ', 1\)\)"/);
    expect(await written('change_log')).toMatch(/epoch: milliseconds[\s\S]*operator: \(select u\.username from t_shape_\w+\.users u where u\.id = user_id\)/);
    expect(await written('events')).toContain('epoch: seconds');
  });

  it.each([
    ['change_log', (s: string) => `insert into ${s}.change_log select 100000 + i, (extract(epoch from now() - interval '3 days') * 1000)::bigint - i, 1, 'delete', 'route/old', null, null from generate_series(1, 5) i`],
    ['audit_trail', (s: string) => `insert into ${s}.audit_trail (id, created, actor, operation, resource) select 100000 + i, (now() - interval '3 days' - (i || ' s')::interval) at time zone 'Europe/Berlin', 'old', 'DELETE', 'Route: 1' from generate_series(1, 5) i`],
  ])('prune through the written config of %s deletes exactly the entries older than the cutoff (epoch and local-time bounds)', async (table, insertOld) => {
    const schema = schemas.get(table) as TestSchema;
    const config = join(dir, `${table}.yaml`);
    await schema.query(insertOld(schema.name));
    const dry = await spawnCli(['--db', db.url, '--config', config, 'prune', '--retention-days', '2', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ matched: 5 });
    const pruned = await spawnCli(['--db', db.url, '--config', config, 'prune', '--retention-days', '2', '--yes', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ deleted: 5 });
    const left = await schema.query<{ n: string; old: string }>(`select count(*) as n, count(*) filter (where id >= 100000) as old from ${schema.name}.${table}`.replace(' id >= ', table === 'change_log' ? ' change_id >= ' : ' id >= '));
    expect(left.rows[0]).toEqual({ n: String(ROWS), old: '0' });
  });

  it('--json reports candidates and the sample, and without --yes or a terminal writes nothing', async () => {
    const schema = schemas.get('cp_audit') as TestSchema;
    const config = join(dir, 'never.yaml');
    const result = await spawnCli(['--db', db.url, 'init', '--schema', schema.name, '--json', '--config', config]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { candidates: { table: string }[]; sample: AuditEntry[]; written: boolean };
    expect(report.candidates[0]?.table).toBe(`${schema.name}.cp_audit`);
    expect(report.sample.map((e) => e.id)).toEqual((await truth('cp_audit')).slice(0, 3).map((e) => e.id));
    expect(report.written).toBe(false);
    await expect(access(config)).rejects.toThrow();
  });

  it('keeps the connection, secrets and retention of an existing config file', async () => {
    const schema = schemas.get('events') as TestSchema;
    const config = join(dir, 'existing.yaml');
    await writeFile(config, `database: { connect_timeout: 7 }\nsecrets: { keys: [internal_token] }\nretention_days: 30\ntable: old_table\n`, { mode: 0o600 });
    const result = await spawnCli(['--db', db.url, 'init', '--schema', schema.name, '--yes', '--config', config]);
    expect(result.code).toBe(0);
    const text = await readFile(config, 'utf8');
    expect(text).toMatch(/connect_timeout: 7[\s\S]*internal_token[\s\S]*retention_days: 30[\s\S]*table: t_shape_\w+\.events/);
  });

  it('a schema with no audit-like table is one line, exit 1', async () => {
    const empty = await createTestSchema('initempty', db.url);
    await empty.query(`create table ${empty.name}.settings (key text primary key, value text)`);
    const result = await spawnCli(['--db', db.url, 'init', '--schema', empty.name, '--yes', '--config', join(dir, 'none.yaml')]);
    await empty.drop();
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: no table looks like an audit log/);
  });
});

describe.skipIf(isEmbedded())('expressions in the config file, through the binary', () => {
  const base = (schema: string) => `table: ${schema}.audit_trail\ncolumns: { timestamp: created, operation: operation, resource_type: "split_part(resource, ': ', 1)", resource_id: "split_part(resource, ': ', 2)", `;

  it.each([
    ['a second statement', `id: id, operator: "actor; drop table users" }`, /'columns.operator' expression .* holds ';', a comment or a NUL/],
    ['a comment', `id: id, operator: "actor -- x" }`, /holds ';', a comment or a NUL/],
    ['an unknown column', `id: id, operator: "upper(who)" }`, /invalid expression for operator in the config file's columns: "upper\(who\)": column "who" does not exist/],
    ['a write', `id: id, operator: "(select nextval('x'::regclass))::text" }`, /invalid expression for operator/],
    ['an expression for the id', `operator: actor, id: "id + 1" }`, /'columns.id' must be a column name/],
  ])('%s is refused with one line naming it, exit 2', async (_name, tail, message) => {
    const schema = schemas.get('audit_trail') as TestSchema;
    const config = join(dir, `bad-${_name.replaceAll(' ', '-')}.yaml`);
    await writeFile(config, base(schema.name) + tail, { mode: 0o600 });
    const result = await spawnCli(['--db', db.url, '--config', config, 'list']);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.code).toBe(2);
  });
});
