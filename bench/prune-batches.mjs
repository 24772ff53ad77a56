/* global process, URL, performance, console */
// Measures `api7-audit prune` against one plain DELETE of the same rows, on a real PostgreSQL server, in one run:
// rows/s per batch size, the slowest batch transaction, and a month-partitioned table pruned by dropping partitions.
//
//   npm run build && node bench/prune-batches.mjs [--rows 400000] [--sizes 1000,2000,5000,10000,20000]
//     [--rounds 3] [--partitioned-rows 1000000] [--db postgres://postgres@127.0.0.1:5432/test]
//
// --rows 0 or --partitioned-rows 0 skips that part; --detach-only passes that flag to the partitioned prune.
//
// Everything happens in a schema of its own (prune_bench_*), dropped at the end. Half of the entries (~1 KB each,
// the shape of examples/schema.sql with all its indexes) are older than the 60-day cutoff. Before every trial the
// deleted rows are put back, then VACUUM ANALYZE and CHECKPOINT, so each trial starts from the same state.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    rows: { type: 'string', default: '400000' },
    sizes: { type: 'string', default: '1000,2000,5000,10000,20000' },
    rounds: { type: 'string', default: '3' },
    'partitioned-rows': { type: 'string', default: '1000000' },
    'detach-only': { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const SIZES = args.sizes.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const PARTITIONED_ROWS = Number(args['partitioned-rows']);
const BIN = fileURLToPath(new URL('../bin/api7-audit.js', import.meta.url));
const SCHEMA_SQL = readFileSync(new URL('../examples/schema.sql', import.meta.url), 'utf8');
const schema = `prune_bench_${randomBytes(3).toString('hex')}`;
const client = new pg.Client({ connectionString: args.db });

// ~1 KB per entry: before and after hold about 450 bytes of JSON each. Ages spread evenly over `span` days, the
// youngest `offset` days old; ids from `firstId`, in time order.
const ENTRY = (n, span, offset = 0, firstId = 1) => `
  select ${firstId - 1} + i as id,
    now() - make_interval(secs => (${offset}::float8 + ${span}::float8 * (${n} - i) / ${n}) * 86400) as created_at,
    'user-' || (i % 17) as operator, (array['CREATE','UPDATE','DELETE'])[1 + i % 3] as operation,
    'route' as resource_type, 'r-' || (i % 5000) as resource_id, 'route ' || i as resource_name,
    ('10.0.' || (i % 200) || '.' || (i % 250))::inet as source_ip, 'dashboard' as source,
    jsonb_build_object('uri', '/r/' || i, 'plugins', jsonb_build_object('key-auth', jsonb_build_object('key', 'k-' || i)),
      'pad', repeat(md5(i::text), 12)) as before,
    jsonb_build_object('uri', '/r/' || i, 'desc', repeat(md5((i + 1)::text), 13)) as after
  from generate_series(1, ${n}) as i`;

const ms = (start) => Math.round(performance.now() - start);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function prune(table, extra = []) {
  const result = spawnSync(process.execPath, [BIN, '--db', args.db, '--table', table, 'prune', '--yes', '--json', '--retention-days', '60', ...extra], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`prune failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function reset(table) {
  await client.query(`insert into ${table} select * from ${schema}.template t where not exists (select 1 from ${table} a where a.id = t.id)`);
  await client.query(`vacuum analyze ${table}`);
  await client.query('checkpoint');
}

async function singleDelete(table) {
  const started = performance.now();
  const result = await client.query(`delete from ${table} where created_at < now() - interval '60 days'`);
  const duration = ms(started);
  return { deleted: result.rowCount, duration_ms: duration, slowest_batch_ms: duration };
}

async function plainTable() {
  const table = `${schema}.audit_logs`;
  await client.query(`set search_path to ${schema}`);
  await client.query(SCHEMA_SQL);
  await client.query('reset search_path');
  await client.query(`create table ${schema}.template as ${ENTRY(ROWS, 120)}`);
  await client.query(`insert into ${table} select * from ${schema}.template`);
  await reset(table);
  const variants = [['single DELETE', () => singleDelete(table)], ...SIZES.map((size) => [`prune --batch-size ${size}`, () => prune(table, ['--batch-size', String(size)])])];
  const results = new Map(variants.map(([name]) => [name, []]));
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const [name, run] of variants) {
      const summary = await run();
      const rate = Math.round(summary.deleted / (summary.duration_ms / 1000));
      results.get(name).push({ rate, slowest: summary.slowest_batch_ms, deleted: summary.deleted });
      console.error(`round ${round}: ${name}: ${summary.deleted} rows, ${summary.duration_ms} ms, ${rate} rows/s, slowest ${summary.slowest_batch_ms} ms`);
      await reset(table);
    }
  }
  const single = median(results.get('single DELETE').map((r) => r.rate));
  console.log(`\n${ROWS} entries, ${results.get('single DELETE')[0].deleted} before the cutoff, ${ROUNDS} rounds (median rows/s; slowest transaction: max)`);
  for (const [name, runs] of results) {
    const rate = median(runs.map((r) => r.rate));
    const slowest = Math.max(...runs.map((r) => r.slowest));
    console.log(`${name.padEnd(26)} ${String(rate).padStart(8)} rows/s  ${(rate / single).toFixed(2)} x single  slowest ${slowest} ms`);
  }
}

async function partitionedTable() {
  // Monthly partitions over 12 months; PARTITIONED_ROWS entries spread over the 7 months before the cutoff (61 to
  // 271 days old), plus 20,000 newer ones, so whole months are dropped and the boundary month is trimmed row by row.
  const table = `${schema}.audit_parts`;
  await client.query(`create table ${table} (id bigint not null, created_at timestamptz not null, operator text, operation text,
    resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)
    partition by range (created_at)`);
  await client.query(`create index on ${table} (created_at, id)`);
  await client.query(`
    do $$ declare m date := date_trunc('month', now() - interval '10 months'); begin
      while m < now() + interval '2 months' loop
        execute format('create table %I.%I partition of %s for values from (%L) to (%L)', '${schema}', 'audit_parts_' || to_char(m, 'YYYY_MM'), '${table}', m, m + interval '1 month');
        m := m + interval '1 month';
      end loop; end $$`);
  await client.query(`insert into ${table} ${ENTRY(PARTITIONED_ROWS, 210, 61)}`);
  await client.query(`insert into ${table} ${ENTRY(20000, 59, 0, PARTITIONED_ROWS + 1)}`);
  await client.query(`vacuum analyze ${table}`);
  await client.query('checkpoint');
  const summary = prune(table, args['detach-only'] ? ['--detach-only'] : []);
  const partitions = args['detach-only'] ? `${summary.partitions_detached} partitions detached` : `${summary.partitions_dropped} partitions dropped`;
  console.log(
    `\npartitioned: ${summary.deleted} entries before the cutoff removed in ${summary.duration_ms} ms ` +
      `(${partitions}, ${summary.batches} batches in the boundary partition, slowest ${summary.slowest_batch_ms} ms)`,
  );
}

await client.connect();
try {
  await client.query(`create schema ${schema}`);
  console.error(`building ${ROWS} entries in ${schema} ...`);
  if (ROWS > 0) await plainTable();
  if (PARTITIONED_ROWS > 0) await partitionedTable();
} finally {
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
}
