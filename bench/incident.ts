import { spawnSync } from 'node:child_process';
import { CompiledQuery, type RawBuilder } from 'kysely';
// The CLI's own query builders, bundled by the same build as dist/: psql runs the very SQL the binary runs.
import { withDatabase } from '../src/db/connect.js';
import { resolveMapping } from '../src/db/mapping.js';
import { buildHistoryPage } from '../src/queries/history.js';
import { statsStatements } from '../src/queries/stats.js';
import { NO_FILTERS } from '../src/queries/filters.js';
import { parseTimeBound } from '../src/config/time-bound.js';
import { OVERVIEW } from '../src/commands/stats/run.js';
import { runCli } from './cli.js';
import { summarizePlan, type PlanSummary } from './list.js';
import { assertSucceeded, runProcess } from './proc.js';
import type { Seed } from './seed.js';
import { pairedRatio, summarize, type Summary } from './stats.js';

export interface HistoryFigure {
  resource: string;
  entries: number;
  /** `api7-audit history TYPE:ID --output ndjson`, whole process, ms. */
  wallMs: Summary;
  /** Median wall time minus median `--version` in the same rounds (target: at most 50 ms). */
  overheadMs: number;
  /** `api7-audit history TYPE:ID` as typed, the table (the default output), whole process, ms; and above `--version`. */
  tableWallMs: Summary;
  tableOverheadMs: number;
  plan: PlanSummary;
}

export interface StatsFigure {
  since: string;
  /** `api7-audit stats --since N --output json`: every overview GROUP BY and the unusual checks, whole process, ms. */
  cliMs: Summary;
  /** `psql -c` of the same statements (the SQL the CLI compiles, parameters inlined), whole process, ms. */
  psqlMs: Summary;
  /** Per round: (cli - --version) / psql. Target: at most 1.2. */
  ratio: Summary;
  statements: number;
}

export interface IncidentResult {
  version: Summary;
  history: HistoryFigure;
  stats: StatsFigure[];
  skipped?: string;
}

const STATS_SINCE = ['30d', '120d'] as const;

/**
 * history and stats against what they cost the server: history's overhead above start-up, and each stats run against
 * psql running the same GROUP BYs (every view of the overview and the unusual checks), in alternating rounds.
 */
export async function measureIncident(seed: Seed, url: string, repeats: number, cwd: string): Promise<IncidentResult> {
  const db = ['--db', url, '--table', seed.table];
  const compiled = await compileStatements(seed, url);
  const version: number[] = [];
  const history: number[] = [];
  const historyTable: number[] = [];
  const cli = new Map<string, number[]>(STATS_SINCE.map((since) => [since, []]));
  const psql = new Map<string, number[]>(STATS_SINCE.map((since) => [since, []]));
  const psqlMissing = spawnSync('psql', ['--version']).status !== 0;
  const historyArgs = [...db, 'history', compiled.resource, '--output', 'ndjson'];
  const historyTableArgs = [...db, 'history', compiled.resource];
  assertSucceeded(await runCli(historyArgs, { cwd }), 'history (warm-up)');
  for (let round = 0; round < repeats; round += 1) {
    version.push(assertSucceeded(await runCli(['--version'], { cwd }), '--version').wallMs);
    history.push(assertSucceeded(await runCli(historyArgs, { cwd }), 'history').wallMs);
    historyTable.push(assertSucceeded(await runCli(historyTableArgs, { cwd }), 'history (table)').wallMs);
    for (const since of STATS_SINCE) {
      cli.get(since)?.push(assertSucceeded(await runCli([...db, 'stats', '--since', since, '--output', 'json'], { cwd }), `stats --since ${since}`).wallMs);
      if (!psqlMissing) {
        const run = await runProcess('psql', ['-X', '-q', '-o', '/dev/null', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', compiled.stats.get(since)?.join(';\n') ?? ''], {});
        psql.get(since)?.push(assertSucceeded(run, `psql stats --since ${since}`).wallMs);
      }
    }
  }
  const versionSummary = summarize(version);
  const historySummary = summarize(history);
  const tableSummary = summarize(historyTable);
  return {
    version: versionSummary,
    history: {
      resource: compiled.resource,
      entries: compiled.entries,
      wallMs: historySummary,
      overheadMs: historySummary.median - versionSummary.median,
      tableWallMs: tableSummary,
      tableOverheadMs: tableSummary.median - versionSummary.median,
      plan: compiled.plan,
    },
    stats: STATS_SINCE.map((since) => {
      const cliMs = cli.get(since) ?? [];
      const overhead = cliMs.map((ms, i) => ms - (version[i] ?? 0));
      return { since, cliMs: summarize(cliMs), psqlMs: summarize(psql.get(since) ?? []), ratio: pairedRatio(overhead, psql.get(since) ?? []), statements: compiled.stats.get(since)?.length ?? 0 };
    }),
    ...(psqlMissing ? { skipped: 'psql is not installed: no stats baseline' } : {}),
  };
}

/** The busiest route of the seed (its history), EXPLAINed; and the stats statements with their parameters inlined for psql. */
async function compileStatements(seed: Seed, url: string) {
  const target = { url, libpq: {}, source: '--db' as const };
  return withDatabase({ target, connectTimeoutMs: 10_000 }, async (db) => {
    const mapping = await resolveMapping(db, seed.table, {});
    const busiest = await db.executeQuery<{ id: string; n: string }>(
      CompiledQuery.raw(`select resource_id as id, count(*) as n from ${seed.table} where resource_type = 'route' group by 1 order by 2 desc limit 1`),
    );
    const row = busiest.rows[0] as { id: string; n: string };
    const page = buildHistoryPage(db, mapping, { type: 'route', id: row.id }, NO_FILTERS, 'asc').compile();
    const explained = await db.executeQuery<{ 'QUERY PLAN': { Plan: Parameters<typeof summarizePlan>[0] }[] }>(
      CompiledQuery.raw(`explain (analyze, format json) ${page.sql}`, [...page.parameters]),
    );
    const plan = summarizePlan((explained.rows[0]?.['QUERY PLAN'][0] as { Plan: Parameters<typeof summarizePlan>[0] }).Plan);
    const stats = new Map<string, string[]>();
    for (const since of STATS_SINCE) {
      const filters = { ...NO_FILTERS, since: parseTimeBound('--since', since) };
      stats.set(since, statsStatements(mapping, filters, OVERVIEW, 3).map((statement) => inline(statement.compile(db))));
    }
    return { resource: `route:${row.id}`, entries: Number(row.n), plan, stats };
  });
}

/** A compiled statement with `$n` replaced by literals, for psql (which binds no parameters before PostgreSQL 16). */
function inline(compiled: ReturnType<RawBuilder<unknown>['compile']>): string {
  return compiled.sql.replace(/\$(\d+)/g, (_, n: string) => {
    const value = compiled.parameters[Number(n) - 1];
    return typeof value === 'number' ? String(value) : `'${String(value).replace(/'/g, "''")}'`;
  });
}
