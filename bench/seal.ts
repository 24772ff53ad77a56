import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli.js';
import type { ServerInfo } from './db.js';
import { assertSucceeded, runProcess } from './proc.js';
import type { ExportFigure } from './export.js';
import type { Log, Seed } from './seed.js';
import { pairedRatio, summarize, type Summary } from './stats.js';

/** The figures export reports (rate, ratio to COPY, wall, peak RSS, CPU per row), for `seal` of every seeded entry into an empty store. */
export interface SealBenchResult extends Omit<ExportFigure, 'name' | 'sentMb'> {
  baselineSkipped?: string;
  baselineCommand: string;
  /** The leaves file per entry, bytes. */
  leavesBytesPerRow: Summary;
  /** `verify` of the same store against the same rows. */
  verifyRowsPerSecond: Summary;
}

/**
 * Seal rate against `COPY (SELECT row_to_json(a) FROM audit_logs a) TO STDOUT` of the same rows (psql to /dev/null),
 * alternating in each round; then verify of that store. Every seal starts from an empty store, so it seals every row.
 */
export async function measureSeal(seed: Seed, url: string, server: ServerInfo, runs: number, cwd: string, log: Log): Promise<SealBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'api7-bench-seal-'));
  try {
    const key = join(dir, 'seal.key');
    assertSucceeded(await runCli(['seal', '--new-key', '--key', key], { cwd, keepStdout: true }), 'seal --new-key');
    const copy = `COPY (SELECT row_to_json(a) FROM ${seed.table} a) TO STDOUT`;
    const baselineSkipped = server.embedded
      ? 'the embedded PGlite server does not serve COPY TO STDOUT to psql'
      : spawnSync('psql', ['--version']).status !== 0
        ? 'psql is not installed'
        : undefined;
    const samples = { copy: [] as number[], seal: [] as number[], wall: [] as number[], rss: [] as number[], cpu: [] as number[], leaves: [] as number[], verify: [] as number[] };
    for (let round = 1; round <= runs; round += 1) {
      if (!baselineSkipped) {
        const run = assertSucceeded(await runProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', copy], { cwd, discardStdout: true, measureRss: true }), 'psql COPY');
        samples.copy.push(seed.rows / (run.wallMs / 1000));
      }
      const store = join(dir, `store-${round}`);
      await mkdir(store);
      const args = ['--db', url, '--table', seed.table, 'seal', '--key', key, '--store', store, '--settle', '0s', '--json'];
      const run = assertSucceeded(await runCli(args, { cwd, keepStdout: true, measureRss: true }), 'seal');
      const count = (JSON.parse(run.stdout) as { record?: { count: number } }).record?.count ?? 0;
      if (count !== seed.rows) throw new Error(`seal sealed ${count} entries, expected ${seed.rows}`);
      const seconds = run.wallMs / 1000;
      samples.seal.push(count / seconds);
      samples.wall.push(seconds);
      samples.rss.push(run.peakRssMb ?? NaN);
      samples.cpu.push(((run.cpuSeconds ?? NaN) * 1e6) / count);
      const leaves = (await readdir(store)).find((name) => name.endsWith('.leaves.ndjson'));
      samples.leaves.push(leaves ? (await stat(join(store, leaves))).size / count : NaN);
      const verify = await runCli(['--db', url, '--table', seed.table, 'verify', '--public-key', `${key}.pub`, '--store', store, '--json'], { cwd, keepStdout: true });
      assertSucceeded(verify, 'verify');
      samples.verify.push(count / (verify.wallMs / 1000));
      log(`  seal round ${round}: ${count} rows in ${seconds.toFixed(2)} s (${Math.round(count / seconds)}/s${samples.copy.length > 0 ? `, COPY ${Math.round(samples.copy.at(-1) ?? 0)}/s` : ''}), verify ${(verify.wallMs / 1000).toFixed(2)} s, peak RSS ${run.peakRssMb?.toFixed(0)} MB`);
      await rm(store, { recursive: true, force: true });
    }
    return {
      baselineSkipped,
      baselineCommand: `psql -c "${copy}" > /dev/null`,
      command: 'seal --key KEY --store DIR --settle 0s (empty store: every row)',
      rows: seed.rows,
      rowsPerSecond: summarize(samples.seal),
      ratioToCopy: baselineSkipped ? undefined : pairedRatio(samples.seal, samples.copy),
      wallSeconds: summarize(samples.wall),
      peakRssMb: summarize(samples.rss),
      cpuUsPerRow: summarize(samples.cpu.filter(Number.isFinite)),
      leavesBytesPerRow: summarize(samples.leaves),
      verifyRowsPerSecond: summarize(samples.verify),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
