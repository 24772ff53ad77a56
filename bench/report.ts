import type { ExportResult } from './export.js';
import type { ListResult } from './list.js';
import type { PruneResult } from './prune.js';
import type { Seed } from './seed.js';
import type { Shape } from './seed-sql.js';
import type { StartupResult } from './startup.js';
import { formatNumber, formatSummary, type Summary } from './stats.js';
import type { SealBenchResult } from './seal.js';
import type { IncidentResult } from './incident.js';

export interface Target {
  target: string;
  measured: string;
  /** undefined: not measured in this run (section skipped, or the server cannot do it). */
  pass?: boolean;
}

export interface Results {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; os: string; node: string };
  server: { version: string; embedded: boolean };
  options: { rows: number; shape?: Shape; runs: number; cheapRepeats: number };
  rssMethod: string;
  seed?: Seed;
  startup?: StartupResult;
  list?: ListResult;
  export?: ExportResult;
  prune?: PruneResult;
  seal?: SealBenchResult;
  incident?: IncidentResult;
  /** 1, 5 and 15-minute load averages when the bench started and ended: other work on the machine skews every figure. */
  loadAverage?: { start: number[]; end?: number[] };
  /** Wall time the bench spent per section, s. */
  seconds: Record<string, number>;
  targets: Target[];
}

const ms = (s: Summary) => formatSummary(s, 0);
const sec = (s: Summary) => formatSummary(s, 2);
const ratio = (s: Summary | undefined) => (s && s.runs > 0 ? formatSummary(s, 2, '×') : '–');

/** Checks the targets against the medians (and, for hard limits, the worst run). */
export function evaluateTargets(r: Omit<Results, 'targets'>): Target[] {
  const targets: Target[] = [];
  const { startup, list, prune } = r;
  if (startup) targets.push({ target: '`--version` ≤ 150 ms (median)', measured: `${ms(startup.version)} ms`, pass: startup.version.median <= 150 });
  if (list) {
    const served = list.shapes.filter((s) => s.plan.indexServed);
    const worst = Math.max(...served.map((s) => s.overheadMs));
    targets.push({ target: 'every list filter served by an index', measured: `${served.length} of ${list.shapes.length}`, pass: served.length === list.shapes.length });
    targets.push({ target: 'list: index-served filters ≤ 50 ms above `--version` (median)', measured: `worst ${formatNumber(worst)} ms`, pass: worst <= 50 });
  }
  const exp = r.export;
  if (exp && exp.figures.length > 0) {
    const hec = exp.figures.find((f) => f.name === 'HEC, masking on');
    if (hec?.ratioToCopy) targets.push({ target: 'export ≥ 0.9 × COPY baseline rate (HEC, masking on)', measured: ratio(hec.ratioToCopy), pass: hec.ratioToCopy.median >= 0.9 });
    else targets.push({ target: 'export ≥ 0.9 × COPY baseline rate', measured: `not measured: ${exp.baselineSkipped ?? 'no baseline'}` });
    const list = exp.listNdjson;
    if (list?.ratioToCopy) targets.push({ target: '`list --all --output ndjson` ≥ 0.75 × COPY baseline rate', measured: ratio(list.ratioToCopy), pass: list.ratioToCopy.median >= 0.75 });
    // The default run's memory: not the reference variants (a quarter of the rows, or a heap limited by NODE_OPTIONS).
    const full = exp.figures.filter((f) => !f.name.includes('¼') && !f.name.includes('baseline') && !f.name.includes('NODE_OPTIONS'));
    const peak = Math.max(...full.map((f) => f.peakRssMb.max));
    const atRows = hec?.rows ?? 0;
    targets.push({ target: `export peak RSS ≤ 150 MB at 2,000,000 rows (worst run, measured at ${formatNumber(atRows)})`, measured: `${formatNumber(peak)} MB`, pass: atRows >= 2_000_000 ? peak <= 150 : peak <= 150 ? undefined : false });
    if (exp.rssGrowth && exp.rssGrowth.runs > 0) {
      targets.push({ target: 'export memory flat as rows grow (peak RSS, all rows ÷ ¼ of them, ≤ 1.15)', measured: ratio(exp.rssGrowth), pass: exp.rssGrowth.median <= 1.15 });
    }
  }
  if (prune) {
    const [, batched, parts, aligned] = prune.figures;
    if (batched?.ratioToDelete) targets.push({ target: 'prune ≥ 0.5 × single-DELETE rate', measured: ratio(batched.ratioToDelete), pass: batched.ratioToDelete.median >= 0.5 });
    const longest = Math.max(...[batched, parts, aligned].filter((f) => f !== undefined).map((f) => f.longestStatementMs.max));
    targets.push({ target: 'prune: no statement over 250 ms (slowest batch, worst run)', measured: `${formatNumber(longest)} ms`, pass: longest <= 250 });
    for (const f of [parts, aligned]) {
      if (!f) continue;
      const million = f.deleted >= 1_000_000;
      targets.push({
        target: `partitioned prune of 1M old rows < 1.5 s (${f.name === 'prune, month partitions' ? 'same cutoff' : 'cutoff after a month start'}; ${formatNumber(f.deleted)} old rows)`,
        measured: `${sec(f.wallSeconds)} s whole process, ${f.reportedSeconds ? sec(f.reportedSeconds) : '–'} s reported`,
        pass: million ? f.wallSeconds.median < 1.5 : undefined,
      });
    }
  }
  const { seal, incident } = r;
  if (seal?.ratioToCopy) targets.push({ target: 'seal ≥ 0.8 × COPY baseline rate', measured: ratio(seal.ratioToCopy), pass: seal.ratioToCopy.median >= 0.8 });
  if (incident && !incident.skipped) {
    targets.push({ target: '`history TYPE:ID` ≤ 50 ms above `--version` (median)', measured: `${formatNumber(incident.history.overheadMs)} ms`, pass: incident.history.overheadMs <= 50 });
    for (const s of incident.stats) {
      targets.push({ target: `\`stats --since ${s.since}\` ≤ 1.2 × psql running the same GROUP BYs (after start-up)`, measured: ratio(s.ratio), pass: s.ratio.median <= 1.2 });
    }
  }
  return targets;
}

export function renderMarkdown(r: Results): string {
  const out: string[] = [];
  const seed = r.seed;
  out.push(`Measured ${r.date.slice(0, 10)} on ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGb} GB, Node.js ${r.machine.node}, ` +
    `${r.server.version.split(' on ')[0]} on the same machine.` +
    (seed ? ` ${formatNumber(seed.rows)} entries (${seed.shape} shape), ${formatNumber(seed.avgJsonBytes)} bytes of JSON each on average (${formatNumber(seed.tableMb)} MB with indexes).` : '') +
    ` Median (min–max) of ${r.options.runs} runs for export and prune, ${r.options.cheapRepeats} for startup and list.` +
    (r.loadAverage ? ` Load average (1 min) ${r.loadAverage.start[0]?.toFixed(1)} at the start, ${r.loadAverage.end?.[0]?.toFixed(1) ?? '?'} at the end.` : ''));
  out.push('');
  out.push('| target | measured | |', '| --- | --- | --- |');
  for (const t of r.targets) out.push(`| ${t.target} | ${t.measured} | ${t.pass === undefined ? 'n/a' : t.pass ? 'pass' : '**miss**'} |`);
  if (r.startup) {
    const s = r.startup;
    out.push('', '**Startup** (whole process, ms)', '', '| command | wall |', '| --- | --- |');
    out.push(`| \`node -e ""\` (floor) | ${ms(s.node)} |`, `| \`api7-audit --version\` | ${ms(s.version)} |`, `| \`api7-audit --help\` | ${ms(s.help)} |`);
    const imports = Object.entries(s.importMs).map(([name, time]) => `${name} ${ms(time)}`);
    if (imports.length > 0) out.push('', `Importing a dependency from node_modules in a fresh process (ms; the binary loads bundled, minified copies instead, see Development): ${imports.join(', ')}.`);
  }
  if (r.list) {
    const l = r.list;
    out.push('', `**list** (default limit ${l.limit}, table output; \`--version\` in the same rounds: ${ms(l.version)} ms)`, '');
    out.push('| filter | flags | wall ms | above `--version` | server exec ms | plan | index |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const s of l.shapes) {
      const plan = s.plan.nodes.filter((n) => n !== 'Limit').join(' › ');
      const filtered = s.plan.rowsRemovedByFilter > 0 ? `; ${formatNumber(s.plan.rowsRemovedByFilter)} rows filtered out` : '';
      out.push(`| ${s.name} | \`${s.args.join(' ') || '(none)'}\` | ${ms(s.wallMs)} | ${formatNumber(s.overheadMs)} | ${formatSummary(s.executionMs, 2)} | ${plan}${filtered} | ${s.plan.indexServed ? 'yes' : '**no**'} |`);
    }
  }
  if (r.export) {
    const e = r.export;
    out.push('', `**export** (${e.figures[0] ? formatNumber(e.figures.find((f) => !f.name.includes('¼'))?.rows ?? 0) : 0} entries, whole process)`, '');
    if (e.baselineSkipped) out.push(`COPY baseline skipped: ${e.baselineSkipped}.`, '');
    out.push(
      '| variant | rows/s | × COPY | × COPY the CPU allows | wall s | peak RSS MB | process CPU µs/entry | server CPU µs/entry | receiver CPU µs/entry | sent MB |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    const usPerRow = (s: Summary | undefined) => (s && s.runs > 0 ? formatSummary(s, 1) : '–');
    for (const f of [...e.figures, ...(e.listNdjson ? [e.listNdjson] : [])]) {
      out.push(
        `| ${f.name} | ${formatSummary(f.rowsPerSecond)} | ${ratio(f.ratioToCopy)} | ${ratio(f.cpuBoundRatio)} | ${sec(f.wallSeconds)} | ${formatSummary(f.peakRssMb)} | ${usPerRow(f.cpuUsPerRow)} | ` +
          `${usPerRow(f.serverCpuUsPerRow)} | ${usPerRow(f.receiverCpuUsPerRow)} | ${f.sentMb.runs ? formatSummary(f.sentMb) : '–'} |`,
      );
    }
    out.push(
      '',
      '"× COPY the CPU allows": the COPY\'s wall time over the least wall time the run\'s CPU permits on these cores (its own process\'s CPU, ' +
        'or the process, server and receiver CPU together spread over every core, whichever is more). Near the measured × COPY, a variant is limited by CPU alone.',
    );
  }
  if (r.prune) {
    const p = r.prune;
    out.push('', `**prune** (fresh logged copies with every index; cutoff ${p.retentionDays} days)`, '');
    out.push('| variant | deleted | rows/s | × DELETE | longest statement ms | wall s | reported s |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const f of p.figures) {
      const extra = f.partitionsDropped !== undefined && f.rowByRow !== undefined ? ` (${f.partitionsDropped} partitions dropped, ${formatNumber(f.rowByRow)} rows row by row)` : '';
      out.push(`| ${f.name}${extra} | ${formatNumber(f.deleted)} | ${formatSummary(f.rowsPerSecond)} | ${ratio(f.ratioToDelete)} | ${ms(f.longestStatementMs)} | ${sec(f.wallSeconds)} | ${f.reportedSeconds ? sec(f.reportedSeconds) : '–'} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
