import { watch } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { spawnCli, startCli } from '../support/cli.js';
import { createDefaultTable, databaseUrl, type TestSchema } from '../support/database.js';
import { useScratch } from './attack-prune-fixture.js';

// A prune killed -9 while it creates its --archive's lock file, through the built binary (npm run build first). The
// old binary created FILE.lock, then wrote its pid into it: killed in between, it left an empty file that the next
// prune took for a lock being written, and refused the archive (exit 3) until the file was a minute old.

const scratch = useScratch('archive-lock-crash');

async function seeded(rows: number): Promise<TestSchema> {
  const schema = await scratch.schema('lock_crash');
  await createDefaultTable(schema);
  await addOld(schema, rows);
  return schema;
}

/** `rows` entries 100 days old whose operator is the schema's name. */
const addOld = (schema: TestSchema, rows: number) =>
  schema.query(`insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id)
    select now() - interval '100 days' + g * interval '1 s', '${schema.name}', 'update', 'route', 'r-' || g from generate_series(1, ${rows}) g`);

const allIds = async (schema: TestSchema) =>
  (await schema.query<{ id: string }>(`select id::text as id from ${schema.table()} where operator = $1`, [schema.name])).rows.map((row) => row.id);
const pruneArgs = (schema: TestSchema, archive: string, ...extra: string[]) =>
  ['--db', databaseUrl(), '--table', schema.table(), 'prune', '--retention-days', '30', '--yes', '--json', '--batch-size', '10', '--archive', archive, ...extra];

async function archivedIds(path: string): Promise<Set<string>> {
  const text = gunzipSync(await readFile(path)).toString('utf8');
  return new Set(text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id));
}

describe('prune --archive killed -9 as it creates the lock file', () => {
  it('an immediate rerun of another table takes the archive: the lock file is never left empty, nothing is left beside the archive', async () => {
    const [a, b] = [await seeded(30), await seeded(0)];
    const dir = scratch.dir();
    const archive = join(dir, 'crash.ndjson.gz');
    const lockPrefix = `${basename(archive)}.lock`;
    const truthB: string[] = [];
    const seen: string[] = [];
    for (let round = 0; round < 16; round += 1) {
      const run = startCli(pruneArgs(a, archive));
      // Killed as soon as anything of the lock appears in the directory, after a random pause of 0-2 ms (none half the time).
      const pause = round % 2 === 0 ? -1 : Math.floor(Math.random() * 3);
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        run.child.kill('SIGKILL');
      };
      const watcher = watch(dir, (_event, name) => {
        if (!name?.startsWith(lockPrefix) || name.endsWith('.break')) return;
        if (pause < 0) kill();
        else setTimeout(kill, pause);
      });
      const ended = await run.result;
      watcher.close();
      const lock = await readFile(`${archive}.lock`, 'utf8').catch(() => undefined);
      const temporary = (await readdir(dir)).some((name) => name.startsWith(lockPrefix) && name.endsWith('.tmp'));
      seen.push(`${lock === undefined ? 'no lock' : lock === '' ? 'empty lock' : 'named lock'}${temporary ? ' and a temporary file' : ''}`);
      expect(killed || ended.code === 0, ended.stderr).toBe(true);

      // Another table's prune, at once and without --wait-lock: only a running holder is a reason to refuse.
      await addOld(b, 5);
      const truth = await allIds(b);
      const rerun = await spawnCli(pruneArgs(b, archive));
      expect(rerun.code, `round ${round}, lock file ${seen.at(-1)}: ${rerun.stderr}`).toBe(0);
      expect(rerun.stderr).toBe('');
      truthB.push(...truth);
      // Nothing of the killed run's is left beside the archive: no lock file, no half-made one.
      expect((await readdir(dir)).filter((name) => name.startsWith(basename(archive)))).toEqual([basename(archive)]);
    }
    // The kills landed while the lock was being made: some left a temporary file, some a named lock (the old binary: an empty one).
    expect(seen.filter((left) => left !== 'no lock').length, seen.join(', ')).toBeGreaterThan(2);
    const truthA = await allIds(a);
    const last = await spawnCli(pruneArgs(a, archive, '--wait-lock', '10s'));
    expect(last.code, last.stderr).toBe(0);
    const archived = await archivedIds(archive);
    for (const id of [...truthA, ...truthB]) expect(archived.has(id), id).toBe(true);
  });

  it('an empty or torn lock file (left by a run killed while writing it) is taken at once', async () => {
    for (const content of ['', '{"pid":12', '\n']) {
      const schema = await seeded(20);
      const truth = await allIds(schema);
      const archive = join(scratch.dir(), `${schema.name}-torn.ndjson.gz`);
      await writeFile(`${archive}.lock`, content);
      const result = await spawnCli(pruneArgs(schema, archive));
      expect(result.code, `${JSON.stringify(content)}: ${result.stderr}`).toBe(0);
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toMatchObject({ deleted: 20, archived: 20 });
      expect([...(await archivedIds(archive))].sort()).toEqual([...truth].sort());
      expect((await readdir(scratch.dir())).filter((name) => name.startsWith(basename(archive)))).toEqual([basename(archive)]);
    }
  });
});
