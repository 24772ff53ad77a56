// `npm run lint`: fails when --help or --version would load a heavy dependency. esbuild's own graph of the bundle is
// followed through static imports only (a command's run module is a dynamic import, loaded when it runs).
import { build } from 'esbuild';

const HEAVY = /node_modules\/(pg|pg-[a-z-]+|kysely|undici|chalk|ora|cli-table3|yaml|diff|@electric-sql\/[a-z-]+)\//;
const root = new URL('..', import.meta.url).pathname;
const { metafile } = await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  bundle: true,
  format: 'esm',
  platform: 'node',
  splitting: true,
  outdir: 'dist-startup-check',
  write: false,
  metafile: true,
  logLevel: 'error',
  external: ['pg-native'],
});
const parent = new Map([['src/main.ts', undefined]]);
const queue = ['src/main.ts'];
while (queue.length > 0) {
  const file = queue.shift();
  for (const dep of metafile.inputs[file]?.imports ?? []) {
    if (dep.kind !== 'import-statement' || dep.external || parent.has(dep.path)) continue;
    parent.set(dep.path, file);
    queue.push(dep.path);
  }
}
const heavy = [...parent.keys()].filter((file) => HEAVY.test(file));
const packages = new Map(heavy.map((file) => [HEAVY.exec(file)[1], file]));
for (const [name, file] of packages) {
  const chain = [];
  for (let at = file; at !== undefined; at = parent.get(at)) chain.unshift(at);
  process.stderr.write(`startup loads ${name}: ${chain.filter((step) => !step.includes('node_modules/') || step === file).join(' -> ')}` + '\n');
}
if (packages.size > 0) {
  process.stderr.write('load it with import() inside the command\'s action instead (see docs/ARCHITECTURE.md, "Start-up")' + '\n');
  process.exit(1);
}
process.stdout.write(`startup: ${parent.size} modules load statically from src/main.ts, none of them heavy` + '\n');
