import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile, type ColumnsSpec } from '../../src/config/config-file.js';
import { UsageError } from '../../src/errors.js';
import { withDatabase, type Db } from '../../src/db/connect.js';
import { resolveMapping } from '../../src/db/mapping.js';
import { fetchPage } from '../../src/queries/list.js';
import { NO_FILTERS } from '../../src/queries/filters.js';
import { AUDIT_SHAPES } from '../support/audit-shapes.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

let schema: TestSchema;

// What init proposes for each shape (test/acceptance/init.test.ts checks that it does): written here by hand.
const MAPPINGS = (s: string): Record<string, ColumnsSpec> => ({
  cp_audit: {
    id: 'audit_id', timestamp: 'event_time', operator: 'username', operation: 'action', resource_type: 'resource_kind',
    resource_id: 'resource_key', resource_name: 'resource_label', source_ip: 'client_ip', source: 'origin', before: 'old_value', after: 'new_value',
  },
  audit_trail: {
    id: 'id', timestamp: { column: 'created', time_zone: 'Europe/Berlin' }, operator: 'actor', operation: 'operation',
    resource_type: `lower(split_part(resource, ': ', 1))`, resource_id: `split_part(resource, ': ', 2)`, source_ip: 'ip',
    before: `details->'before'`, after: `details->'after'`,
  },
  change_log: {
    id: 'change_id', timestamp: { column: 'ts', epoch: 'milliseconds' }, operator: `(select u.username from ${s}.users u where u.id = user_id)`,
    operation: 'op', resource_type: `split_part(target, '/', 1)`, resource_id: `split_part(target, '/', 2)`, source_ip: 'remote_addr',
    before: '(select jsonb_object_agg(d.key, d.value->0) from jsonb_each(diff) d)', after: '(select jsonb_object_agg(d.key, d.value->1) from jsonb_each(diff) d)',
  },
  events: {
    id: 'event_uuid', timestamp: { column: 'occurred_at', epoch: 'seconds' }, operator: 'principal', operation: 'method',
    resource_type: 'object_type', resource_id: 'object_id', resource_name: 'object_name', before: 'old', after: 'new',
  },
  audit_view: {},
});

beforeAll(async () => {
  schema = await createTestSchema('mapexpr');
  for (const shape of AUDIT_SHAPES) await shape.create(schema, 300);
});
afterAll(() => schema.drop());

const withDb = <T>(fn: (db: Db) => Promise<T>) =>
  withDatabase({ target: { url: databaseUrl(), libpq: {}, source: '--db' }, connectTimeoutMs: 5000 }, fn);

describe('expressions in the config file', () => {
  it.each([
    ['a second statement', `actor; drop table users`],
    ['a line comment', `actor -- and the rest`],
    ['a block comment', `actor /* x */`],
    ['a NUL', `actor\u0000`],
    ['10 KB', `lower(${'a'.repeat(10_240)})`],
  ])('%s is refused before any SQL runs, naming the field', async (_name, expression) => {
    const dir = await mkdtemp(join(tmpdir(), 'api7-audit-expr-'));
    const file = join(dir, 'c.yaml');
    await writeFile(file, `columns:\n  operator: ${JSON.stringify(expression)}\n  timestamp: "created_at + interval '1 hour'"\n`);
    const error = await loadConfigFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/'columns.operator' (expression .* holds ';', a comment or a NUL|is an expression of \d+ characters; at most 2000)/);
    expect((error as Error).message).toContain(`'columns.timestamp' must be a column name (the (timestamp, id) order is read from an index)`);
    await rm(dir, { recursive: true, force: true });
  });

  it('a timestamp spec is checked whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'api7-audit-expr-'));
    const file = join(dir, 'c.yaml');
    await writeFile(file, `columns:\n  timestamp: { column: "ts + 1", epoch: hours, time_zone: "Europe/Berlin'; --", zone: x }\n`);
    const message = ((await loadConfigFile(file).catch((e: unknown) => e)) as Error).message;
    for (const part of [`unknown key 'columns.timestamp.zone'`, `'columns.timestamp.column' must be a column name`, `'columns.timestamp.epoch' must be 'seconds' or 'milliseconds'`, `'columns.timestamp.time_zone' must be a time zone name`, 'takes epoch or time_zone, not both']) {
      expect(message).toContain(part);
    }
    await rm(dir, { recursive: true, force: true });
  });
});

describe('mappings that are expressions', () => {
  it.each(AUDIT_SHAPES.map((shape) => [shape.name, shape] as const))('%s: list reads what SQL by hand reads', async (_name, shape) => {
    const truth = (await schema.query<{ e: unknown }>(shape.truth(schema.name))).rows.map((row) => row.e);
    const entries = await withDb(async (db) => {
      const mapping = await resolveMapping(db, `${schema.name}.${shape.table}`, MAPPINGS(schema.name)[shape.table] ?? {});
      return fetchPage(db, mapping, { filters: NO_FILTERS, order: 'desc' }, 1000);
    });
    expect(entries.length).toBe(300);
    expect(entries.map((e) => ({ ...e, before: typeof e.before === 'string' ? JSON.parse(e.before) : e.before, after: typeof e.after === 'string' ? JSON.parse(e.after) : e.after })))
      .toEqual(truth);
  });

  it.each(['cp_audit', 'audit_trail', 'change_log', 'events'])('%s: --since filters on the raw column, and matches SQL', async (table) => {
    const shape = AUDIT_SHAPES.find((s) => s.table === table);
    const truth = (await schema.query<{ e: { timestamp: string; id: string } }>(shape?.truth(schema.name) ?? '')).rows.map((row) => row.e)
      .filter((e) => Date.parse(e.timestamp) >= Date.parse('2000-01-01') && Date.now() - Date.parse(e.timestamp) < 2 * 3600_000 - 5_000);
    const entries = await withDb(async (db) => {
      const mapping = await resolveMapping(db, `${schema.name}.${table}`, MAPPINGS(schema.name)[table] ?? {});
      return fetchPage(db, mapping, { filters: { ...NO_FILTERS, since: { kind: 'relative', interval: '2 hours' } as never }, order: 'desc' }, 1000);
    });
    // The boundary second may fall either way between the two clocks' reads: compare all but the oldest.
    expect(entries.slice(0, truth.length - 1).map((e) => e.id)).toEqual(truth.slice(0, -1).map((e) => e.id));
  });

  it.each([
    ['an unknown column', { operator: 'lower(nobody)' }, /invalid expression for operator in the config file's columns: "lower\(nobody\)": column "nobody" does not exist/],
    ['a wrong type for before', { before: 'length(actor)' }, /expression "length\(actor\)" \(for before\) has type int4; expected one of jsonb, json, text/],
    ['a write', { operator: `(select nextval('x'))` }, /invalid expression for operator/],
  ])('%s is a usage error naming the expression', async (_name, columns, message) => {
    const error = await withDb((db) => resolveMapping(db, `${schema.name}.audit_trail`, { ...MAPPINGS(schema.name).audit_trail, ...columns } as ColumnsSpec)).catch((e: unknown) => e);
    expect((error as Error & { exitCode?: number }).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
  });
});
