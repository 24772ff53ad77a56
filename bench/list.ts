import { PassThrough } from 'node:stream';
import { CompiledQuery } from 'kysely';
// The CLI's own modules, bundled into the bench by the same build as dist/: the SQL explained is the SQL the binary runs.
import { buildProgram } from '../src/cli.js';
import { parseListFlags, type ListFlags } from '../src/commands/list/command.js';
import type { ListOptions } from '../src/commands/list/run.js';
import { withDatabase } from '../src/db/connect.js';
import { resolveMapping } from '../src/db/mapping.js';
import { buildListQuery, PAGE_SIZE } from '../src/queries/list.js';
import { runCli } from './cli.js';
import { assertSucceeded } from './proc.js';
import type { Seed } from './seed.js';
import { summarize, type Summary } from './stats.js';

/** A filter shape as a user types it; values are chosen against the seed's distribution (see seed-sql.ts). */
export interface ListShape {
  name: string;
  args: string[];
  /** Share of the table the filter alone matches, for the reader. */
  note: string;
}

export const LIST_SHAPES: readonly ListShape[] = [
  { name: 'operator + since 7d', args: ['--operator', 'bob', '--since', '7d'], note: 'bob: 6 % of entries' },
  { name: 'rare operator + since 7d', args: ['--operator', 'breakglass@example.com', '--since', '7d'], note: '0.01 % of entries' },
  { name: 'resource type:id', args: ['--resource', 'route:r-1f40'], note: '1 route of 5,000' },
  { name: 'IP CIDR', args: ['--ip', '198.51.100.0/24'], note: '3 operators, 7 % of entries' },
  { name: 'operation', args: ['--operation', 'delete'], note: '8 % of entries' },
  { name: 'source', args: ['--source', 'adc'], note: '10 % of entries' },
  { name: 'since only', args: ['--since', '24h'], note: '1/120 of entries' },
  { name: 'no filter', args: [], note: 'newest 50' },
];

export interface PlanSummary {
  /** Plan nodes, outermost first: `Limit`, `Index Scan Backward on audit_logs_operator_created_at_idx`, ... */
  nodes: string[];
  /** No sequential scan anywhere in the plan, and at least one index or bitmap scan. */
  indexServed: boolean;
  /** Rows an index handed over that a filter then threw away: the cost of an index that only half fits. */
  rowsRemovedByFilter: number;
  rowsReturned: number;
}

export interface ListFigure {
  name: string;
  args: string[];
  note: string;
  /** Whole-process wall time of `api7-audit list ...`, ms. */
  wallMs: Summary;
  /** Median wall time minus the median `--version` time measured in the same rounds, ms. */
  overheadMs: number;
  /** EXPLAIN ANALYZE execution and planning time of the exact SQL the CLI runs, ms. */
  executionMs: Summary;
  planningMs: Summary;
  plan: PlanSummary;
  sql: string;
}

export interface ListResult {
  limit: number;
  version: Summary;
  shapes: ListFigure[];
  /**
   * What the default table output costs over CSV for the same 50 unfiltered rows (median wall time difference, ms):
   * loading string-width and laying the rows out (cli-table3 is no longer loaded). CSV does not load string-width, but
   * reads and masks the states the table leaves out.
   */
  tableOverCsvMs: number;
}

/**
 * Each round runs `--version` and every filter shape once, so the overhead above startup is a difference of medians
 * taken over the same stretch of a noisy machine. The server side is EXPLAIN (ANALYZE) of the very SQL the CLI
 * compiles for those flags, run as many times.
 */
export async function measureList(seed: Seed, url: string, repeats: number, cwd: string): Promise<ListResult> {
  const base = ['--db', url, '--table', seed.table, 'list'];
  const version = () => runCli(['--version'], { cwd });
  const list = (shape: ListShape) => runCli([...base, ...shape.args], { cwd });
  // One warm-up run: the binary, its modules and the table's pages come from the OS cache in every measured run.
  assertSucceeded(await list(LIST_SHAPES[0] as ListShape), 'list (warm-up)');
  const versionMs: number[] = [];
  const csvMs: number[] = [];
  const wall = new Map(LIST_SHAPES.map((shape) => [shape.name, [] as number[]]));
  for (let round = 0; round < repeats; round += 1) {
    versionMs.push(assertSucceeded(await version(), '--version').wallMs);
    for (const shape of LIST_SHAPES) wall.get(shape.name)?.push(assertSucceeded(await list(shape), `list ${shape.args.join(' ')}`).wallMs);
    csvMs.push(assertSucceeded(await runCli([...base, '--output', 'csv'], { cwd }), 'list --output csv').wallMs);
  }
  const versionSummary = summarize(versionMs);
  const explained = await explainShapes(seed, url, repeats);
  return {
    limit: 50,
    version: versionSummary,
    tableOverCsvMs: summarize(wall.get('no filter') ?? []).median - summarize(csvMs).median,
    shapes: LIST_SHAPES.map((shape, i) => {
      const wallMs = summarize(wall.get(shape.name) ?? []);
      const server = explained[i] as Explained;
      return { ...shape, wallMs, overheadMs: wallMs.median - versionSummary.median, ...server };
    }),
  };
}

interface Explained {
  executionMs: Summary;
  planningMs: Summary;
  plan: PlanSummary;
  sql: string;
}

async function explainShapes(seed: Seed, url: string, repeats: number): Promise<Explained[]> {
  const target = { url, libpq: {}, source: '--db' as const };
  return withDatabase({ target, connectTimeoutMs: 10_000 }, async (db) => {
    const mapping = await resolveMapping(db, seed.table, {});
    const out: Explained[] = [];
    for (const shape of LIST_SHAPES) {
      const options = await parseListArgs(shape.args);
      // What streamEntries asks for: one row past the limit (to know whether there is a next page).
      const limit = Math.min(PAGE_SIZE, (options.limit ?? PAGE_SIZE) + 1);
      const compiled = buildListQuery(db, mapping, { filters: options.filters, order: options.order, after: options.cursor }, limit).compile();
      const explain = CompiledQuery.raw(`explain (analyze, format json) ${compiled.sql}`, [...compiled.parameters]);
      const execution: number[] = [];
      const planning: number[] = [];
      let plan: PlanSummary | undefined;
      for (let i = 0; i < repeats + 1; i += 1) {
        const result = await db.executeQuery<{ 'QUERY PLAN': ExplainOutput }>(explain);
        const output = result.rows[0]?.['QUERY PLAN'][0];
        if (!output) throw new Error(`no EXPLAIN output for ${shape.name}`);
        if (i === 0) continue; // the first run warms the cache, as the CLI's own warm-up run did
        execution.push(output['Execution Time']);
        planning.push(output['Planning Time']);
        plan ??= summarizePlan(output.Plan);
      }
      out.push({ executionMs: summarize(execution), planningMs: summarize(planning), plan: plan as PlanSummary, sql: compiled.sql });
    }
    return out;
  });
}

/** The list options the CLI would build from these flags: parsed by the CLI's own program and flag parser. */
async function parseListArgs(args: readonly string[]): Promise<ListOptions> {
  let captured: ListOptions | undefined;
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, cwd: process.cwd(), stdoutIsTty: false, stderrIsTty: false };
  const program = buildProgram(io);
  program.commands.find((command) => command.name() === 'list')?.action(async function () {
    captured = await parseListFlags(this.opts() as ListFlags);
  });
  await program.parseAsync(['list', ...args], { from: 'user' });
  if (!captured) throw new Error(`list ${args.join(' ')} was not parsed`);
  return captured;
}

type ExplainOutput = { Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }[];

interface PlanNode {
  'Node Type': string;
  'Scan Direction'?: string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

export function summarizePlan(root: PlanNode): PlanSummary {
  const nodes: string[] = [];
  let removed = 0;
  let seqScan = false;
  let indexScan = false;
  const visit = (node: PlanNode) => {
    const type = node['Node Type'];
    const direction = node['Scan Direction'] === 'Backward' ? ' Backward' : '';
    nodes.push(node['Index Name'] ? `${type}${direction} on ${node['Index Name']}` : node['Relation Name'] ? `${type} on ${node['Relation Name']}` : type);
    if (type.includes('Seq Scan')) seqScan = true;
    if (type.includes('Index') || type.includes('Bitmap')) indexScan = true;
    removed += (node['Rows Removed by Filter'] ?? 0) * (node['Actual Loops'] ?? 1);
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(root);
  return { nodes, indexServed: indexScan && !seqScan, rowsRemovedByFilter: Math.round(removed), rowsReturned: root['Actual Rows'] ?? 0 };
}
