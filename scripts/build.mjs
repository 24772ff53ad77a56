// Builds dist/ from src/ with esbuild; `node scripts/build.mjs bench` builds the benchmark into dist-bench/ instead.
//
// Why a bundle and not tsc's file-per-file output: Node.js 20 loads ES modules file by file, and kysely alone is 280
// files. Measured on the 2-core machines of this project: `import('kysely')` took 170-460 ms from node_modules and
// 13-20 ms from one bundled file, which decides whether `list` can start within 50 ms of `--version`. Type checking
// stays with `npm run typecheck` (tsc); this step only transpiles.
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const root = new URL('..', import.meta.url).pathname;

/**
 * pg asks, as it loads, whether it runs on Cloudflare Workers: on Node.js 20, which has no `navigator`, by building
 * a fetch `Response`, which makes Node.js load its own copy of undici, 15-30 ms of every `list` or `show` measured
 * here. api7-audit only runs on Node.js, so the bundle takes pg's Node.js socket functions directly. The build
 * fails if pg's code no longer has that line, rather than silently keeping the check.
 */
const nodeOnlyPg = {
  name: 'pg-node-streams',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const probe = 'const { getStream, getSecureStream } = getStreamFuncs()';
      if (!source.includes(probe)) throw new Error(`${path}: expected "${probe}"; review the pg-node-streams step`);
      return { contents: source.replace(probe, 'const { getStream, getSecureStream } = getNodejsStreamFuncs()'), loader: 'js' };
    });
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  logLevel: 'warning',
  // CommonJS dependencies bundled into ES modules (pg, commander) call require() for Node.js built-ins.
  banner: { js: "import { createRequire as __api7CreateRequire } from 'node:module'; const require = __api7CreateRequire(import.meta.url);" },
};

async function buildCli() {
  // Built beside dist/ and swapped in by two renames, so a binary already running (or a test spawning one) never
  // finds dist/ half written: it sees the old bundle or the new one.
  const next = `${root}dist.next-${process.pid}`;
  const old = `${root}dist.old-${process.pid}`;
  await build({
    ...common,
    entryPoints: ['src/main.ts'],
    outdir: next,
    metafile: true,
    // Dynamic imports (a command, pg, ora, the demo database) stay separate chunks, loaded only when a command needs them.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    // Less text for V8 to parse at every start (kysely: 424 KB to 215 KB); names are kept, so stack traces and error
    // names stay readable, and bin/api7-audit.js turns source maps on for --debug.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: true,
    plugins: [nodeOnlyPg, await compileHistoryStatements()],
    // The only packages loaded from node_modules at run time (package.json's "dependencies"; the rest is bundled):
    // PGlite finds its WebAssembly and data files next to its own modules; jq-wasm reads its jq.wasm beside its
    // module. pg tries the optional native binding only when asked to, which api7-audit never does.
    external: ['@electric-sql/pglite', 'pg-native', 'jq-wasm'],
  })
    .then(({ metafile }) => writeThirdPartyLicenses(metafile, `${next}/THIRD-PARTY-LICENSES.txt`))
    .catch(async (error) => {
      await rm(next, { recursive: true, force: true });
      throw error;
    });
  await rename(`${root}dist`, old).catch((error) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(next, `${root}dist`);
  await rm(old, { recursive: true, force: true });
}

/**
 * The bundle holds copies of MIT, ISC, BSD and Apache-2.0 packages, whose terms ask for their copyright and license
 * notice to go with every copy: dist/THIRD-PARTY-LICENSES.txt has each bundled package's license file, from the
 * bundle's own list of inputs (so it never lists a package the bundle does not hold, nor misses one). The build
 * fails for a package with no license text, or with a NOTICE file (Apache-2.0 asks for it to be shipped too).
 */
async function writeThirdPartyLicenses(metafile, file) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input);
    if (match) packages.set(match[1], match[2]);
  }
  const sections = [];
  for (const [dir, name] of [...packages].sort(([, a], [, b]) => a.localeCompare(b))) {
    const manifest = JSON.parse(await readFile(`${root}${dir}/package.json`, 'utf8'));
    const files = await readdir(`${root}${dir}`);
    if (files.some((entry) => /^notice(\.|$)/i.test(entry))) throw new Error(`${dir} has a NOTICE file: ship it (THIRD-PARTY-LICENSES)`);
    const licenseFile = files.find((entry) => /^(licen[cs]e|copying)(\.|-|$)/i.test(entry));
    const text = licenseFile ? (await readFile(`${root}${dir}/${licenseFile}`, 'utf8')).trim() : await licenseSection(`${root}${dir}`, files);
    sections.push(`${name}@${manifest.version} (${manifest.license})\n\n${text}\n`);
  }
  const head = `api7-audit's dist/ bundles these ${sections.length} packages; their licenses follow.\n`;
  await writeFile(file, [head, ...sections].join(`\n${'-'.repeat(78)}\n\n`));
}

/** A package with no license file (pg-types): its README's license section, which holds the notice; else the build fails. */
async function licenseSection(dir, files) {
  const readme = files.find((entry) => /^readme(\.|$)/i.test(entry));
  const text = readme ? await readFile(`${dir}/${readme}`, 'utf8') : '';
  const section = /^#+\s*licen[cs]e\b[^\n]*\n([\s\S]*?)(?=^#+\s|(?![\s\S]))/im.exec(text)?.[1]?.trim();
  if (!section) throw new Error(`${dir} has no license file nor a license section in its README to ship with the bundle`);
  return section;
}

/**
 * man/api7-audit.1 from the program's own commander tree (src/output/man-page.ts), so the page shipped in the package
 * lists what `--help` lists. Written by a rename, as dist/ is.
 */
async function buildManPage() {
  const next = `${root}man/api7-audit.1.next-${process.pid}`;
  try {
    const stdout = await runFromSource(`import { buildProgram } from './src/cli.ts';
import { renderManPage } from './src/output/man-page.ts';
import { VERSION } from './src/version.ts';
const io = { stdout: process.stdout, stderr: process.stderr, env: {}, cwd: process.cwd(), stdoutIsTty: false, stderrIsTty: false };
const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const date = new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString().slice(0, 10);
process.stdout.write(renderManPage(buildProgram(io), { version: VERSION, date }));`);
    await mkdir(`${root}man`, { recursive: true });
    await writeFile(next, stdout);
    await rename(next, `${root}man/api7-audit.1`);
  } finally {
    await rm(next, { force: true });
  }
}

/**
 * history's statements compiled by Kysely from its own builders (src/queries/history-compile.ts), put in the bundle
 * in place of src/queries/history-statements.ts, which compiles them on first use: the binary's `history` then
 * loads no Kysely for a timeline (docs/decisions/007). The compiler throws when a statement cannot be precompiled.
 */
async function compileHistoryStatements() {
  const json = await runFromSource(`import { isDeepStrictEqual } from 'node:util';
import { compileHistoryStatements } from './src/queries/history-compile.ts';
const statements = await compileHistoryStatements();
const json = JSON.stringify(statements);
if (!isDeepStrictEqual(JSON.parse(json), statements)) throw new Error('history statements: a value that JSON does not carry as it is');
process.stdout.write(json);`);
  return {
    name: 'history-statements',
    setup(esbuild) {
      esbuild.onLoad({ filter: /[\\/]src[\\/]queries[\\/]history-statements\.ts$/ }, () => ({
        contents: `const STATEMENTS = ${json};\nexport async function historyStatements() { return STATEMENTS; }\n`,
        loader: 'js',
      }));
    },
  };
}

let steps = 0;

/** Bundles `contents` (a module in the checkout's root, its dependencies loaded from node_modules), runs it once, returns its stdout. */
async function runFromSource(contents) {
  const script = `${root}build-step-${process.pid}-${(steps += 1)}.mjs`;
  try {
    await build({ ...common, stdin: { contents, resolveDir: root, loader: 'ts' }, outfile: script, packages: 'external' });
    const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } finally {
    await rm(script, { force: true });
  }
}

async function buildBench() {
  // The bench spawns the built binary for every figure; what it imports from src/ (the list query builder, to
  // EXPLAIN it) is bundled from the same sources. Its dependencies stay in node_modules.
  await rm(`${root}dist-bench`, { recursive: true, force: true });
  await build({
    ...common,
    entryPoints: ['bench/run.ts', 'bench/hec-receiver.ts'],
    outbase: '.',
    outdir: `${root}dist-bench`,
    packages: 'external',
  });
}

await (process.argv[2] === 'bench' ? buildBench() : buildCli().then(buildManPage));
