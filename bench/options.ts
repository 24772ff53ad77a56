import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { SHAPES, type Shape } from './seed-sql.js';

export const SECTIONS = ['startup', 'list', 'export', 'prune', 'seal', 'incident'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  rows: number;
  /** Which data the seed holds (seed-sql.ts). */
  shape: Shape;
  /** Runs of each expensive figure (export, prune); cheap ones (startup, list) run `CHEAP_FACTOR` times as often. */
  runs: number;
  sections: Section[];
  databaseUrl: string;
  /** Where results.json goes. */
  out: string;
  /** Drop the seed schema at the end instead of keeping it for the next run. */
  dropSeed: boolean;
}

/** Startup and list runs take a fraction of a second each: more of them make their medians steadier. */
export const CHEAP_FACTOR = 5;

export const USAGE = `npm run bench -- [--rows N] [--shape default|small] [--runs K] [--only startup|list|export|prune] [--db URL] [--out FILE] [--drop-seed]

  --rows N      entries to seed (default 1,000,000); a seed of the same size is reused
  --shape S     default: ~1 KB entries, mostly ASCII; small: ~550-byte entries, most with CJK text (own seed schema)
  --runs K      runs per export and prune figure (default 3); startup and list run ${CHEAP_FACTOR} x K times (2 when K is 1)
  --only S      only this section (repeatable or comma-separated); startup always runs, list needs it
  --db URL      PostgreSQL server (default: BENCH_DATABASE_URL, else TEST_DATABASE_URL)
  --out FILE    results file (default bench/results.json; bench/results-small.json for --shape small)
  --drop-seed   drop the seed schema when done`;

export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '1000000' },
      shape: { type: 'string', default: 'default' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string', multiple: true },
      db: { type: 'string' },
      out: { type: 'string' },
      'drop-seed': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageRequest();
  const rows = wholeNumber('--rows', values.rows, 1000, 50_000_000);
  const runs = wholeNumber('--runs', values.runs, 1, 50);
  const shape = values.shape as Shape;
  if (!SHAPES.includes(shape)) throw new Error(`--shape ${values.shape}: expected one of ${SHAPES.join(', ')}`);
  const only = (values.only ?? []).flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  for (const section of only) {
    if (!(SECTIONS as readonly string[]).includes(section)) throw new Error(`--only ${section}: expected one of ${SECTIONS.join(', ')}`);
  }
  const sections = only.length === 0 ? [...SECTIONS] : SECTIONS.filter((s) => s === 'startup' || only.includes(s));
  const databaseUrl = values.db ?? env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;
  if (!databaseUrl) throw new Error('no database: pass --db URL or set BENCH_DATABASE_URL (or TEST_DATABASE_URL)');
  const file = shape === 'default' ? 'results.json' : `results-${shape}.json`;
  const out = values.out ?? fileURLToPath(new URL(`../../bench/${file}`, import.meta.url));
  return { rows, shape, runs, sections, databaseUrl, out, dropSeed: values['drop-seed'] };
}

/** `--help` was asked for: print the usage and exit 0. */
export class UsageRequest extends Error {}

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} ${value}: expected a whole number from ${min} to ${max}`);
  return n;
}
