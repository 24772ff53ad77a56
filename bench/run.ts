/**
 * `npm run bench`: speed and memory of list, export and prune, side by side with what PostgreSQL itself does with
 * the same rows, measured in one run on one machine. Every figure spawns the built binary as a user would.
 *
 *   npm run bench -- --rows 2000000 --runs 3 [--shape small] [--only export] [--db URL]
 *
 * Prints a markdown table on stdout (progress on stderr) and writes bench/results.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { snapshotBinary } from './cli.js';
import { connect, serverInfo } from './db.js';
import { measureExport } from './export.js';
import { measureList } from './list.js';
import { CHEAP_FACTOR, USAGE, UsageRequest, parseBenchOptions, type Section } from './options.js';
import { rssMethod } from './proc.js';
import { measurePrune } from './prune.js';
import { measureSeal } from './seal.js';
import { measureIncident } from './incident.js';
import { evaluateTargets, renderMarkdown, type Results } from './report.js';
import { dropSeed, ensureSeed } from './seed.js';
import { measureStartup } from './startup.js';

const log = (message: string) => process.stderr.write(`${message}\n`);

/** Runs `fn`, recording how long it took in `results.seconds` (how long the bench itself takes, per section). */
async function timed<T>(results: Pick<Results, 'seconds'>, name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    results.seconds[name] = Math.round((performance.now() - started) / 100) / 10;
  }
}

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2), process.env);
  // Quick mode (--runs 1, as in the test suite) only checks that the harness works: two runs of the cheap figures.
  const cheapRepeats = options.runs === 1 ? 2 : options.runs * CHEAP_FACTOR;
  // A scratch working directory: no api7-audit.yaml from the repository or the user is picked up by the CLI.
  const cwd = await mkdtemp(join(tmpdir(), 'api7-bench-'));
  const dropSnapshot = await snapshotBinary();
  const client = await connect(options.databaseUrl);
  try {
    const server = await serverInfo(client);
    const cpu = cpus();
    const base: Omit<Results, 'targets'> = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpu.length,
        cpuModel: cpu[0]?.model.trim() ?? 'unknown',
        memoryGb: Math.round(totalmem() / 2 ** 30),
        os: `${platform()} ${release()}`,
        node: process.versions.node,
      },
      server: { version: server.version, embedded: server.embedded },
      options: { rows: options.rows, shape: options.shape, runs: options.runs, cheapRepeats },
      rssMethod: rssMethod(),
      seconds: {},
    };
    const loadAtStart = loadavg();
    log(`api7-audit bench: ${options.rows.toLocaleString('en-US')} rows (${options.shape} shape), ${options.runs} runs, sections ${options.sections.join(', ')}; ${Math.round(freemem() / 2 ** 30)} GB free`);
    const seed = await timed(base, 'seed', () => ensureSeed(client, options.databaseUrl, server, options.rows, options.shape, log));
    base.seed = seed;
    const run = async <K extends Section>(section: K, fn: () => Promise<NonNullable<Results[K]>>) => {
      if (!options.sections.includes(section)) return;
      log(`${section} ...`);
      base[section] = await timed(base, section, fn);
    };
    await run('startup', () => measureStartup(cheapRepeats, cwd));
    await run('list', () => measureList(seed, options.databaseUrl, cheapRepeats, cwd));
    await run('export', () => measureExport(seed, options.databaseUrl, server, options.runs, cwd, log));
    await run('prune', () => measurePrune(client, seed, options.databaseUrl, server, options.runs, cwd, log));
    await run('seal', () => measureSeal(seed, options.databaseUrl, server, options.runs, cwd, log));
    await run('incident', () => measureIncident(seed, options.databaseUrl, cheapRepeats, cwd));
    base.loadAverage = { start: loadAtStart, end: loadavg() };
    const results: Results = { ...base, targets: evaluateTargets(base) };
    await mkdir(dirname(options.out), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(renderMarkdown(results));
    log(`results written to ${options.out}`);
    if (options.dropSeed) await dropSeed(client, options.rows, options.shape);
  } finally {
    await client.end().catch(() => undefined);
    await rm(cwd, { recursive: true, force: true });
    await dropSnapshot();
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageRequest) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
