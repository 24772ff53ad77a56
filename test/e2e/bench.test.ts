import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results } from '../../bench/report.js';
import { databaseUrl } from '../support/database.js';

// `npm run bench` in quick mode, so the harness never rots: it is compiled and run as `npm run bench` runs it, against
// the test database (a real server, or the embedded one, where the parts it cannot do are skipped with a reason).
// Its numbers are not asserted, only that every section ran and was written.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILD = join(ROOT, 'scripts', 'build.mjs');
let dir: string;

function run(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-bench-test-'));
  const compiled = await run([BUILD, 'bench'], 120_000);
  expect(compiled.stdout + compiled.stderr).toBe('');
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('npm run bench -- --rows 20000 --runs 1', () => {
  it('measures every section and writes results.json and a markdown table', async () => {
    const out = join(dir, 'results.json');
    const result = await run(['dist-bench/bench/run.js', '--rows', '20000', '--runs', '1', '--db', databaseUrl(), '--out', out], 170_000);
    expect(result.stderr).not.toContain('bench failed');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('| target | measured |');
    const results = JSON.parse(await readFile(out, 'utf8')) as Results;
    expect(results.seed).toMatchObject({ rows: 20_000 });
    expect(results.startup?.version.runs).toBeGreaterThan(0);
    expect(results.list?.shapes.length).toBeGreaterThanOrEqual(6);
    expect(results.list?.shapes.every((shape) => shape.executionMs.runs > 0 && shape.plan.nodes.length > 0)).toBe(true);
    const exported = results.export?.figures.filter((figure) => !figure.name.includes('baseline')) ?? [];
    expect(exported.map((figure) => figure.rows)).toEqual([20_000, 20_000, 20_000, expect.any(Number), 20_000, 20_000]);
    if (results.server.embedded) expect(results.export?.baselineSkipped).toMatch(/PGlite/);
    else expect(results.export?.figures[0]?.name).toMatch(/COPY/);
    expect(results.prune?.figures.map((figure) => figure.deleted)).toEqual([10_000, 10_000, 10_000, expect.any(Number)]);
    expect(results.targets.length).toBeGreaterThan(5);
  }, 180_000);
});
