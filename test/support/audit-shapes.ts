import type { TestSchema } from './database.js';

/**
 * Five audit tables shaped as they are found in the field, each with `rows` entries and the SQL that reads each
 * shape's canonical entries by hand (the ground truth `init`'s mapping must reproduce). Every shape holds the same
 * history: entry i is `minutes` i before now, by one of three operators, on a route, service or SSL object.
 */
export interface AuditShape {
  name: string;
  /** The table init should find (unqualified). */
  table: string;
  create(schema: TestSchema, rows: number): Promise<void>;
  /** Canonical entries as JSON objects in (timestamp, id) descending order: a query over `S.table`. */
  truth(schema: string): string;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const OPERATORS = `(array['alice', 'bob', 'svc-deployer'])[1 + i % 3]`;
const OPERATIONS = `(array['create', 'update', 'delete'])[1 + i % 3]`;
const KINDS = `(array['route', 'service', 'ssl'])[1 + i % 3]`;
const BEFORE = `case when i % 3 <> 0 then jsonb_build_object('n', i - 1, 'name', 'obj-' || i) end`;
const AFTER = `case when i % 3 <> 2 then jsonb_build_object('n', i, 'name', 'obj-' || i, 'tags', jsonb_build_array('a', i)) end`;
// Microsecond times would not survive an epoch in milliseconds: every shape's times are whole milliseconds.
const AT = `date_trunc('milliseconds', now()) - (i || ' minutes')::interval - (i % 7 || ' ms')::interval`;

function entry(fields: Record<string, string>): string {
  return `json_build_object(${Object.entries(fields).map(([key, value]) => `'${key}', ${value}`).join(', ')})`;
}

export const AUDIT_SHAPES: AuditShape[] = [
  {
    name: 'renamed columns (timestamptz, inet, jsonb states)',
    table: 'cp_audit',
    async create(schema, rows) {
      await schema.query(`create table ${schema.name}.cp_audit (
        audit_id bigint primary key, event_time timestamptz not null, username text, action text, resource_kind text,
        resource_key text, resource_label text, client_ip inet, origin text, old_value jsonb, new_value jsonb)`);
      await schema.query(`create index on ${schema.name}.cp_audit (event_time, audit_id)`);
      await schema.query(`insert into ${schema.name}.cp_audit
        select i, ${AT}, ${OPERATORS}, ${OPERATIONS}, ${KINDS}, 'r-' || (i % 5), 'name-' || i, ('10.0.' || (i % 4) || '.1')::inet,
          (array['dashboard', 'api'])[1 + i % 2], ${BEFORE}, ${AFTER}
        from generate_series(1, ${rows}) i`);
    },
    truth: (s) => `select ${entry({
      id: 'audit_id::text', timestamp: `to_char(event_time at time zone 'UTC', ${ISO})`, operator: 'username', operation: 'action',
      resource_type: 'resource_kind', resource_id: 'resource_key', resource_name: 'resource_label', source_ip: 'host(client_ip)',
      source: 'origin', before: 'old_value', after: 'new_value',
    })} as e from ${s}.cp_audit order by event_time desc, audit_id desc`,
  },
  {
    name: 'one resource column "Route: 123", local time, both states in one JSON column, IP as text',
    table: 'audit_trail',
    async create(schema, rows) {
      await schema.query(`create table ${schema.name}.audit_trail (
        id serial primary key, created timestamp not null, actor text, operation text, resource text, ip text, details jsonb)`);
      await schema.query(`create index on ${schema.name}.audit_trail (created)`);
      await schema.query(`insert into ${schema.name}.audit_trail (id, created, actor, operation, resource, ip, details)
        select i, (${AT}) at time zone 'Europe/Berlin', ${OPERATORS}, upper(${OPERATIONS}),
          initcap(${KINDS}) || ': ' || (100 + i % 5), '192.168.1.' || (i % 9),
          jsonb_build_object('before', ${BEFORE}, 'after', ${AFTER}, 'request_id', 'q' || i)
        from generate_series(1, ${rows}) i`);
    },
    truth: (s) => `select ${entry({
      id: 'id::text', timestamp: `to_char((created at time zone 'Europe/Berlin') at time zone 'UTC', ${ISO})`, operator: 'actor',
      operation: 'operation', resource_type: `lower(split_part(resource, ': ', 1))`, resource_id: `split_part(resource, ': ', 2)`,
      resource_name: 'null', source_ip: 'ip', source: 'null', before: `details->'before'`, after: `details->'after'`,
    })} as e from ${s}.audit_trail order by created desc, id desc`,
  },
  {
    name: 'epoch milliseconds, operator joined from users, "route/abc" resource, a single diff column',
    table: 'change_log',
    async create(schema, rows) {
      await schema.query(`create table ${schema.name}.users (id int primary key, username text not null, email text)`);
      await schema.query(`insert into ${schema.name}.users values (1, 'alice', 'a@x'), (2, 'bob', 'b@x'), (3, 'svc-deployer', null)`);
      await schema.query(`create table ${schema.name}.change_log (
        change_id bigint primary key, ts bigint not null, user_id int references ${schema.name}.users, op text, target text,
        remote_addr text, diff jsonb)`);
      await schema.query(`create index on ${schema.name}.change_log (ts, change_id)`);
      await schema.query(`insert into ${schema.name}.change_log
        select i, (extract(epoch from ${AT}) * 1000)::bigint, 1 + i % 3, ${OPERATIONS}, ${KINDS} || '/' || md5(i::text),
          '2001:db8::' || (i % 16), jsonb_build_object('n', jsonb_build_array(i - 1, i), 'name', jsonb_build_array(null, 'obj-' || i))
        from generate_series(1, ${rows}) i`);
    },
    truth: (s) => `select ${entry({
      id: 'change_id::text', timestamp: `to_char(to_timestamp(ts / 1000.0) at time zone 'UTC', ${ISO})`,
      operator: `(select username from ${s}.users u where u.id = user_id)`, operation: 'op', resource_type: `split_part(target, '/', 1)`,
      resource_id: `split_part(target, '/', 2)`, resource_name: 'null', source_ip: 'remote_addr', source: 'null',
      before: `(select jsonb_object_agg(key, value->0) from jsonb_each(diff))`, after: `(select jsonb_object_agg(key, value->1) from jsonb_each(diff))`,
    })} as e from ${s}.change_log order by ts desc, change_id desc`,
  },
  {
    name: 'epoch seconds, json (not jsonb) old/new states, uuid ids',
    table: 'events',
    async create(schema, rows) {
      await schema.query(`create table ${schema.name}.events (
        event_uuid uuid primary key, occurred_at integer not null, principal text, method text, object_type text,
        object_id text, object_name text, source text, old json, new json)`);
      await schema.query(`create index on ${schema.name}.events (occurred_at)`);
      await schema.query(`insert into ${schema.name}.events
        select md5(i::text)::uuid, extract(epoch from now() - (i || ' hours')::interval)::int, ${OPERATORS}, ${OPERATIONS},
          ${KINDS}, 'o' || i, 'Name ' || i, (array['dashboard', 'api', 'adc'])[1 + i % 3], (${BEFORE})::json, (${AFTER})::json
        from generate_series(1, ${rows}) i`);
    },
    truth: (s) => `select ${entry({
      id: 'event_uuid::text', timestamp: `to_char(to_timestamp(occurred_at) at time zone 'UTC', ${ISO})`, operator: 'principal',
      operation: 'method', resource_type: 'object_type', resource_id: 'object_id', resource_name: 'object_name', source_ip: 'null',
      source: 'source', before: 'old::jsonb', after: 'new::jsonb',
    })} as e from ${s}.events order by occurred_at desc, event_uuid desc`,
  },
  {
    name: 'a view over the default layout, with text states and a varchar IP',
    table: 'audit_view',
    async create(schema, rows) {
      await schema.query(`create table ${schema.name}.raw_audit (
        id bigint primary key, created_at timestamptz not null, operator text, operation text, resource_type text,
        resource_id text, resource_name text, source_ip varchar(45), source text, before text, after text)`);
      await schema.query(`create index on ${schema.name}.raw_audit (created_at, id)`);
      await schema.query(`insert into ${schema.name}.raw_audit
        select i, ${AT}, ${OPERATORS}, ${OPERATIONS}, ${KINDS}, 'v' || i, null, '172.16.0.' || (i % 200), 'api',
          (${BEFORE})::text, (${AFTER})::text
        from generate_series(1, ${rows}) i`);
      await schema.query(`create view ${schema.name}.audit_view as select * from ${schema.name}.raw_audit`);
    },
    truth: (s) => `select ${entry({
      id: 'id::text', timestamp: `to_char(created_at at time zone 'UTC', ${ISO})`, operator: 'operator', operation: 'operation',
      resource_type: 'resource_type', resource_id: 'resource_id', resource_name: 'resource_name', source_ip: 'source_ip', source: 'source',
      before: 'before::jsonb', after: 'after::jsonb',
    })} as e from ${s}.audit_view order by created_at desc, id desc`,
  },
];
