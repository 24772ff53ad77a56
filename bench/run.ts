/**
 * `npm run bench`: speed and memory of list, export and prune, side by side with what PostgreSQL itself does with
 * the same rows, measured in one run on one machine. Every figure spawns the built binary as a user would.
 *
 *   npm run bench -- --rows 2000000 --runs 3 [--only export] [--db URL]
 *
 * Prints a markdown table on stdout (progress on stderr) and writes bench/results.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { connect, serverInfo } from './db.js';
import { measureExport } from './export.js';
import { measureList } from './list.js';
import { CHEAP_FACTOR, USAGE, UsageRequest, parseBenchOptions } from './options.js';
import { rssMethod } from './proc.js';
import { measurePrune } from './prune.js';
import { evaluateTargets, renderMarkdown, type Results } from './report.js';
import { dropSeed, ensureSeed } from './seed.js';
import { measureStartup } from './startup.js';

const log = (message: string) => process.stderr.write(`${message}\n`);

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2), process.env);
  const cheapRepeats = options.runs * CHEAP_FACTOR;
  // A scratch working directory: no api7-audit.yaml from the repository or the user is picked up by the CLI.
  const cwd = await mkdtemp(join(tmpdir(), 'api7-bench-'));
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
      options: { rows: options.rows, runs: options.runs, cheapRepeats },
      rssMethod: rssMethod(),
      skipped: {},
    };
    log(`api7-audit bench: ${options.rows.toLocaleString('en-US')} rows, ${options.runs} runs, sections ${options.sections.join(', ')}; ${Math.round(freemem() / 2 ** 30)} GB free`);
    base.seed = await ensureSeed(client, options.databaseUrl, server, options.rows, log);
    if (options.sections.includes('startup')) {
      log('startup ...');
      base.startup = await measureStartup(cheapRepeats, cwd);
    }
    if (options.sections.includes('list')) {
      log('list ...');
      base.list = await measureList(base.seed, options.databaseUrl, cheapRepeats, cwd);
    }
    if (options.sections.includes('export')) {
      log('export ...');
      base.export = await measureExport(base.seed, options.databaseUrl, server, options.runs, cwd, log);
    }
    if (options.sections.includes('prune')) {
      log('prune ...');
      base.prune = await measurePrune(client, base.seed, options.databaseUrl, server, options.runs, cwd, log);
    }
    const results: Results = { ...base, targets: evaluateTargets(base) };
    await mkdir(dirname(options.out), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(renderMarkdown(results));
    log(`results written to ${options.out}`);
    if (options.dropSeed) await dropSeed(client, options.rows);
  } finally {
    await client.end().catch(() => undefined);
    await rm(cwd, { recursive: true, force: true });
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
