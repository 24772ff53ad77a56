import { fileURLToPath } from 'node:url';
import { runCli } from './cli.js';
import { assertSucceeded, runProcess } from './proc.js';
import { summarize, type Summary } from './stats.js';

export interface StartupResult {
  /** `node -e ""`: the floor any Node.js CLI starts from on this machine. */
  node: Summary;
  version: Summary;
  help: Summary;
  /** Peak RSS of `--version`, MB. */
  versionRssMb: Summary;
  /** Time to import each heavy dependency in a fresh process, ms: what a command pays before its first query. */
  importMs: Record<string, Summary>;
}

/** The dependencies a command loads on demand; `--version` and `--help` load none of them. */
export const HEAVY_MODULES = ['commander', 'kysely', 'pg', 'undici', 'chalk'] as const;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Whole-process wall time of `--version` and `--help`, interleaved with a bare Node start, after one warm-up each. */
export async function measureStartup(repeats: number, cwd: string): Promise<StartupResult> {
  const node = () => runProcess(process.execPath, ['-e', ''], { cwd });
  const version = (measureRss = false) => runCli(['--version'], { cwd, keepStdout: true, measureRss });
  const help = () => runCli(['--help'], { cwd });
  for (const warmUp of [node, () => version(), help]) assertSucceeded(await warmUp(), 'warm-up');
  const times = { node: [] as number[], version: [] as number[], help: [] as number[], rss: [] as number[] };
  for (let i = 0; i < repeats; i += 1) {
    times.node.push(assertSucceeded(await node(), 'node -e ""').wallMs);
    const v = assertSucceeded(await version(), 'api7-audit --version');
    if (!/^\d+\.\d+\.\d+/.test(v.stdout)) throw new Error(`api7-audit --version printed ${JSON.stringify(v.stdout)}`);
    times.version.push(v.wallMs);
    times.help.push(assertSucceeded(await help(), 'api7-audit --help').wallMs);
  }
  // Measured apart: wrapping the timed runs in /usr/bin/time would add its own fork and exec to them.
  for (let i = 0; i < Math.min(repeats, 3); i += 1) times.rss.push(assertSucceeded(await version(true), 'api7-audit --version').peakRssMb ?? NaN);
  const importMs: Record<string, Summary> = {};
  for (const name of HEAVY_MODULES) {
    const samples: number[] = [];
    const code = `const t = performance.now(); await import(${JSON.stringify(name)}); process.stdout.write(String(performance.now() - t));`;
    for (let i = 0; i < Math.min(repeats, 5); i += 1) {
      const run = assertSucceeded(await runProcess(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, keepStdout: true }), `import ${name}`);
      samples.push(Number(run.stdout));
    }
    importMs[name] = summarize(samples);
  }
  return { node: summarize(times.node), version: summarize(times.version), help: summarize(times.help), versionRssMb: summarize(times.rss), importMs };
}
