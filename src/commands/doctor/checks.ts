import type { Db } from '../../db/connect.js';
import type { MappedColumn, ResolvedMapping } from '../../db/mapping.js';
import { quoteIdentifier, quoteTableName } from '../../db/identifiers.js';
import type { CanonicalField, EntryFilters } from '../../domain.js';
import { planNodes, planReads, type PlanNode, type TableFacts } from '../../queries/doctor.js';
import type { Check } from '../../output/doctor.js';

/** Clock differences beyond these warn, then fail: relative times (--since 7d, retention) follow the database clock. */
const SKEW_WARN_MS = 2_000;
const SKEW_FAIL_MS = 300_000;

export function clockCheck(skewMs: number, uncertaintyMs: number): Check {
  const seconds = (skewMs / 1000).toFixed(1);
  const ahead = skewMs > 0 ? 'ahead of' : 'behind';
  const off = Math.abs(skewMs) - uncertaintyMs;
  const data = { skew_ms: Math.round(skewMs), uncertainty_ms: Math.round(uncertaintyMs) };
  if (off <= SKEW_WARN_MS) return { group: 'connection', name: 'clock', status: 'ok', message: `database clock within ${Math.max(1, Math.ceil(Math.abs(skewMs) / 1000))} s of this host's`, data };
  return {
    group: 'connection', name: 'clock', status: off > SKEW_FAIL_MS ? 'fail' : 'warn',
    message: `database clock is ${Math.abs(Number(seconds))} s ${ahead} this host's; --since, --until and retention follow the database clock`,
    fix: 'synchronize both clocks (chrony or systemd-timesyncd on the database host and here)',
    data,
  };
}

/** How a plan reads the table: served by an index (with an index condition, no sort), or not. */
export interface PlanVerdict {
  indexed: boolean;
  sorted: boolean;
  indexes: string[];
}

export function judgePlan(plan: PlanNode): PlanVerdict {
  const nodes = planNodes(plan);
  const indexes = [...new Set(nodes.map((node) => node['Index Name']).filter((name): name is string => name !== undefined))];
  const indexed = nodes.some((node) => node['Index Cond'] !== undefined || (node['Node Type'] === 'Bitmap Heap Scan' && node['Recheck Cond'] !== undefined));
  const scans = nodes.some((node) => node['Node Type'] === 'Seq Scan');
  return { indexed: indexed && !scans, sorted: nodes.some((node) => node['Node Type'] === 'Sort'), indexes };
}

/** SQL text of a field as an index would hold it: a column's quoted name, or the expression in parentheses. */
function indexTerm(column: MappedColumn | undefined): string | undefined {
  if (!column) return undefined;
  if (column.expression !== undefined) return `(${column.expression})`;
  return quoteIdentifier(column.name);
}

/**
 * What list orders by (src/queries/list.ts): the column, or for a local time or a fractional epoch the instant it
 * stands for, which only an index on that expression serves.
 */
function listOrderTerm(mapping: ResolvedMapping, ts: string): string {
  const column = mapping.columns.timestamp;
  if (column?.timeZone !== undefined) return `(${ts} at time zone '${column.timeZone.replaceAll("'", "''")}')`;
  if (column?.epoch !== undefined && (column.type === 'float8' || column.type === 'numeric')) {
    return column.epoch === 'milliseconds' ? `(to_timestamp(${ts} / 1000.0))` : `(to_timestamp(${ts}))`;
  }
  return ts;
}

function createIndex(mapping: ResolvedMapping, body: string): string {
  return `CREATE INDEX CONCURRENTLY ON ${quoteTableName(mapping.table)} ${body};`;
}

interface IndexProbe {
  name: string;
  /** What the query serves, for the message. */
  what: string;
  field: CanonicalField;
  filters: Partial<EntryFilters>;
  /** The index that would serve it, as `(...)` or `USING gist (...)`; undefined when none can. */
  index(terms: Record<string, string | undefined>): string | undefined;
  /** Why no index can serve it on this mapping, when that is so. */
  impossible?(mapping: ResolvedMapping): string | undefined;
}

const PROBES: IndexProbe[] = [
  { name: '--operator', what: 'list/export --operator', field: 'operator', filters: { operators: ['alice'] }, index: (t) => `(${t.operator}, ${t.ts}, ${t.id})` },
  { name: '--operation', what: 'list/export --operation', field: 'operation', filters: { operations: ['delete'] }, index: (t) => `((lower(${t.operation})), ${t.ts}, ${t.id})` },
  { name: '--resource', what: 'list/export --resource TYPE:ID', field: 'resource_type', filters: { resources: [{ type: 'route', id: 'x' }] }, index: (t) => `(${t.resource_type}, ${t.resource_id}, ${t.ts})` },
  {
    // An IPv6 block: an IPv4 one also matches IPv4-mapped addresses (an OR), planned as a scan where most rows match.
    name: '--ip', what: 'list/export --ip CIDR', field: 'source_ip', filters: { ips: ['2001:db8::/32'] },
    index: (t) => `USING gist (${t.source_ip} inet_ops)`,
    impossible: (m) => (m.columns.source_ip && !['inet', 'cidr'].includes(m.columns.source_ip.type) ? `the IP is ${m.columns.source_ip.type}, matched by a cast per row; an inet column (or a generated one) could be indexed` : undefined),
  },
  { name: '--source', what: 'list/export --source', field: 'source', filters: { sources: ['api'] }, index: (t) => `(${t.source}, ${t.ts})` },
];

/**
 * Whether an index serves each way the tool reads the table, by EXPLAIN (never ANALYZE) of the statements it runs:
 * the newest-first page (list, show's neighbours), a time range (--since), prune's batches before a cutoff and
 * export's read after a checkpoint (both in (timestamp, id) order), and each filter.
 */
export async function indexChecks(db: Db, mapping: ResolvedMapping, cutoff: string): Promise<Check[]> {
  const terms: Record<string, string | undefined> = { ts: indexTerm(mapping.columns.timestamp), id: indexTerm(mapping.columns.id) };
  for (const field of ['operator', 'operation', 'resource_type', 'resource_id', 'source_ip', 'source'] as const) terms[field] = indexTerm(mapping.columns[field]);
  const orderIndex = createIndex(mapping, `(${listOrderTerm(mapping, terms.ts as string)}, ${terms.id})`);
  const probed = PROBES.filter((probe) => mapping.columns[probe.field] !== undefined);
  const plans = await planReads(db, mapping, cutoff, Object.fromEntries(probed.map((probe) => [probe.name, probe.filters])));
  const checks: Check[] = [];

  const order = judgePlan(plans.newestFirst);
  checks.push(order.sorted || !order.indexes.length
    ? { group: 'indexes', name: 'newest first', status: 'fail', message: 'list sorts the whole table for every page: no index on (timestamp, id)', fix: orderIndex }
    : { group: 'indexes', name: 'newest first', status: 'ok', message: `list pages read ${order.indexes.join(', ')}` });

  const timeProbes = [
    ['--since', 'list/export --since 1d', plans.since],
    ['prune', 'prune batches before the cutoff', plans.prune],
    ['export', 'export after a checkpoint', plans.export],
  ] as const;
  for (const [name, what, plan] of timeProbes) {
    const verdict = judgePlan(plan);
    checks.push(verdict.indexed && !verdict.sorted
      ? { group: 'indexes', name, status: 'ok', message: `${what}: ${verdict.indexes.join(', ')}` }
      : { group: 'indexes', name, status: 'fail', message: `${what}: no index serves it; every run reads the whole table`, fix: orderIndex });
  }

  for (const probe of PROBES) {
    const plan = plans.filters[probe.name];
    if (!plan) {
      checks.push({ group: 'indexes', name: probe.name, status: 'skip', message: `${probe.what}: no column mapped` });
      continue;
    }
    const verdict = judgePlan(plan);
    if (verdict.indexed) {
      checks.push({ group: 'indexes', name: probe.name, status: 'ok', message: `${probe.what}: ${verdict.indexes.join(', ')}` });
      continue;
    }
    const impossible = probe.impossible?.(mapping);
    const expression = mapping.columns[probe.field]?.expression !== undefined ? ' (an expression: index the expression itself)' : '';
    checks.push({
      group: 'indexes', name: probe.name, status: 'warn',
      message: `${probe.what} cannot use an index${impossible ? `: ${impossible}` : `; it reads every entry in the time range${expression}`}`,
      ...(impossible ? {} : { fix: createIndex(mapping, probe.index(terms) ?? '') }),
    });
  }
  return checks;
}

/** Partitioning as the catalog tells it, for the table line. */
export function describePartitioning(facts: TableFacts): string {
  if (facts.partitionKey === null) return 'not partitioned';
  const oldest = facts.oldestPartition ? `; oldest ${facts.oldestPartition.name} ${facts.oldestPartition.bound.replace(/^FOR VALUES /, '')}` : '';
  return `partitioned by ${facts.partitionKey}, ${facts.partitions} partition${facts.partitions === 1 ? '' : 's'}${oldest}`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
