import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { runCli } from './cli.js';
import type { ServerInfo } from './db.js';
import { assertSucceeded, runProcess, type ProcessRun } from './proc.js';
import { Receiver } from './receiver.js';
import { ServerCpu } from './server-cpu.js';
import type { Log, Seed } from './seed.js';
import { pairedRatio, summarize, type Summary } from './stats.js';

const TOKEN = 'bench-hec-token';
/** V8 heap limits a user can set for a long export: a smaller young generation and old space, traded for GC time. */
export const SMALL_HEAP = '--max-old-space-size=96 --max-semi-space-size=4';

export interface ExportFigure {
  name: string;
  /** The api7-audit arguments after `export` (the receiver URL shown as HEC_URL), or the baseline command. */
  command: string;
  rows: number;
  rowsPerSecond: Summary;
  /** Per-run ratio to the COPY baseline of the same round. */
  ratioToCopy?: Summary;
  wallSeconds: Summary;
  peakRssMb: Summary;
  /** CPU time of the measured process (api7-audit, or psql for the baseline, whose work is in the server), µs per entry. */
  cpuUsPerRow?: Summary;
  /** Bytes the receiver (or the file) got per run, MB. */
  sentMb: Summary;
  /** CPU time of the PostgreSQL server during the run, µs per entry (a local server only). */
  serverCpuUsPerRow?: Summary;
  /** CPU time of the HEC receiver during the run, µs per entry. */
  receiverCpuUsPerRow?: Summary;
  /**
   * The highest × COPY the machine's cores allow for the CPU this run used (per round, against that round's COPY):
   * the run cannot take less wall time than its own process's CPU (one thread does the work), nor than the CPU of
   * the process, the server and the receiver together spread over every core. A run near this figure is limited by
   * CPU alone; only using less of it can make it faster.
   */
  cpuBoundRatio?: Summary;
}

export interface ExportResult {
  baselineSkipped?: string;
  figures: ExportFigure[];
  /** `list --all --output ndjson` to /dev/null, in the same rounds: what people pipe into jq. */
  listNdjson?: ExportFigure;
  /** Peak RSS of the full export over that of a quarter of the rows: near 1 when memory is flat. */
  rssGrowth?: Summary;
}

interface Variant {
  name: string;
  /** Reported apart from the export figures. */
  list?: boolean;
  command: string;
  run: () => Promise<{ run: ProcessRun; rows: number; sentBytes: number }>;
}

/**
 * Export rate and memory against `COPY (SELECT row_to_json(a) FROM audit_logs a) TO STDOUT` of the same rows (psql
 * writing to /dev/null), each round running every variant once so the ratios compare the same moments.
 */
export async function measureExport(seed: Seed, url: string, server: ServerInfo, runs: number, cwd: string, log: Log): Promise<ExportResult> {
  const dir = await mkdtemp(join(tmpdir(), 'api7-bench-export-'));
  const receiver = await Receiver.start();
  const serverCpu = server.embedded ? undefined : await ServerCpu.find(url);
  const cores = availableParallelism();
  try {
    const base = ['--db', url, '--table', seed.table, 'export', '--settle', '0', '--json'];
    const env = { API7_AUDIT_HEC_TOKEN: TOKEN };
    const viaHec = async (extra: string[], name: string, nodeOptions?: string) => {
      const before = await receiver.stats();
      const runEnv = nodeOptions === undefined ? env : { ...env, NODE_OPTIONS: nodeOptions };
      const run = assertSucceeded(await runCli([...base, '--hec-url', receiver.url, ...extra], { cwd, env: runEnv, keepStdout: true, measureRss: true }), name);
      const after = await receiver.stats();
      return { run, rows: exportedRows(run, name), sentBytes: after.bytes - before.bytes };
    };
    const toFile = async () => {
      const file = join(dir, 'export.ndjson');
      try {
        const run = assertSucceeded(await runCli([...base, '--out', file], { cwd, keepStdout: true, measureRss: true }), 'export --out');
        return { run, rows: exportedRows(run, 'export --out'), sentBytes: (await stat(file)).size };
      } finally {
        await rm(file, { force: true });
      }
    };
    // Stdout to /dev/null, as the baseline's: a pipe to a reader would add that reader's CPU to the shared cores.
    const listAll = async () => {
      const args = ['--db', url, '--table', seed.table, 'list', '--all', '--output', 'ndjson'];
      const run = assertSucceeded(await runCli(args, { cwd, discardStdout: true, measureRss: true }), 'list --all --output ndjson');
      return { run, rows: seed.rows, sentBytes: NaN };
    };
    const variants: Variant[] = [];
    const baselineSkipped = server.embedded
      ? 'the embedded PGlite server does not serve COPY TO STDOUT to psql'
      : spawnSync('psql', ['--version']).status !== 0
        ? 'psql is not installed'
        : undefined;
    if (!baselineSkipped) {
      const copy = `COPY (SELECT row_to_json(a) FROM ${seed.table} a) TO STDOUT`;
      variants.push({
        name: 'COPY row_to_json (baseline)',
        command: `psql -c "${copy}" > /dev/null`,
        run: async () => {
          const run = assertSucceeded(
            await runProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', copy], { cwd, discardStdout: true, measureRss: true }),
            'psql COPY',
          );
          return { run, rows: seed.rows, sentBytes: NaN };
        },
      });
    }
    variants.push(
      { name: 'HEC, masking on', command: 'export --hec-url HEC_URL', run: () => viaHec([], 'export to HEC') },
      { name: 'HEC --gzip', command: 'export --hec-url HEC_URL --gzip', run: () => viaHec(['--gzip'], 'export to HEC --gzip') },
      { name: '--out file', command: 'export --out FILE', run: toFile },
      { name: 'HEC, last 30 days (¼ of rows)', command: 'export --hec-url HEC_URL --since 30d', run: () => viaHec(['--since', '30d'], 'export --since 30d') },
      // What masking costs, and what a smaller V8 heap costs and saves: for the reader, not for the targets.
      { name: 'HEC, --show-secrets (no masking)', command: 'export --hec-url HEC_URL --show-secrets', run: () => viaHec(['--show-secrets'], 'export --show-secrets') },
      {
        name: `HEC, NODE_OPTIONS=${SMALL_HEAP}`,
        command: `NODE_OPTIONS='${SMALL_HEAP}' export --hec-url HEC_URL`,
        run: () => viaHec([], 'export with a small heap', SMALL_HEAP),
      },
      { name: 'list --all --output ndjson', command: 'list --all --output ndjson > /dev/null', list: true, run: listAll },
    );
    type Sample = { rate: number; wall: number; rss: number; cpu: number; rows: number; sent: number; serverCpu: number; receiverCpu: number; minWall: number };
    const samples = new Map(variants.map((v) => [v.name, [] as Sample[]]));
    for (let round = 1; round <= runs; round += 1) {
      for (const variant of variants) {
        const serverBefore = (await serverCpu?.seconds()) ?? NaN;
        const receiverBefore = (await receiver.stats()).cpuSeconds;
        const { run, rows, sentBytes } = await variant.run();
        // The run's backend exits as its client does; the postmaster counts its CPU once it has reaped it.
        if (serverCpu) await sleep(200);
        const serverSeconds = ((await serverCpu?.seconds()) ?? NaN) - serverBefore;
        const receiverSeconds = (await receiver.stats()).cpuSeconds - receiverBefore;
        const seconds = run.wallMs / 1000;
        const own = run.cpuSeconds ?? NaN;
        const minWall = Math.max(own, serverSeconds, (own + serverSeconds + receiverSeconds) / cores);
        samples.get(variant.name)?.push({
          rate: rows / seconds, wall: seconds, rss: run.peakRssMb ?? NaN, cpu: (own * 1e6) / rows, rows, sent: sentBytes / 1048576,
          serverCpu: (serverSeconds * 1e6) / rows, receiverCpu: (receiverSeconds * 1e6) / rows, minWall,
        });
        log(`  export round ${round}: ${variant.name}: ${rows} rows in ${seconds.toFixed(2)} s, ${Math.round(rows / seconds)} rows/s, peak RSS ${run.peakRssMb?.toFixed(0)} MB, CPU ${own.toFixed(2)} s, server CPU ${serverSeconds.toFixed(2)} s, receiver CPU ${receiverSeconds.toFixed(2)} s`);
      }
    }
    const baseline = baselineSkipped ? undefined : samples.get(variants[0]?.name ?? '');
    const all = variants.map((variant): ExportFigure => {
      const list = samples.get(variant.name) ?? [];
      const rates = list.map((s) => s.rate);
      return {
        name: variant.name,
        command: variant.command,
        rows: list[0]?.rows ?? 0,
        rowsPerSecond: summarize(rates),
        ratioToCopy: baseline && list !== baseline ? pairedRatio(rates, baseline.map((s) => s.rate)) : undefined,
        wallSeconds: summarize(list.map((s) => s.wall)),
        peakRssMb: summarize(list.map((s) => s.rss)),
        cpuUsPerRow: summarize(list.map((s) => s.cpu).filter(Number.isFinite)),
        sentMb: summarize(list.map((s) => s.sent).filter(Number.isFinite)),
        serverCpuUsPerRow: summarize(list.map((s) => s.serverCpu).filter(Number.isFinite)),
        receiverCpuUsPerRow: summarize(list.map((s) => s.receiverCpu).filter((v) => Number.isFinite(v) && v > 0)),
        cpuBoundRatio: baseline && list !== baseline ? pairedRatio(baseline.map((s) => s.wall), list.map((s) => s.minWall)) : undefined,
      };
    });
    const figures = all.filter((_, i) => !variants[i]?.list);
    const listNdjson = all.find((_, i) => variants[i]?.list);
    const full = samples.get('HEC, masking on') ?? [];
    const quarter = samples.get('HEC, last 30 days (¼ of rows)') ?? [];
    return { baselineSkipped, figures, listNdjson, rssGrowth: pairedRatio(full.map((s) => s.rss), quarter.map((s) => s.rss)) };
  } finally {
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function exportedRows(run: ProcessRun, what: string): number {
  const summary = JSON.parse(run.stdout) as { exported?: unknown };
  if (typeof summary.exported !== 'number') throw new Error(`${what}: no summary on stdout: ${run.stdout.slice(0, 500)}`);
  return summary.exported;
}
