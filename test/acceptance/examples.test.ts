import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';

// Every script and command line in examples/ is checked and run as shipped, with only its paths pointed at a
// scratch directory and `api7-audit` on PATH as `npm install -g` would put it.
const run = promisify(execFile);
const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
// shellcheck is a Debian package that .ci/run installs; on a developer's machine without it, that one check is skipped.
const shellcheck = await run('shellcheck', ['--version']).then(() => true, () => false);

let schema: TestSchema;
let scratch: string;
let binDir: string;

beforeAll(async () => {
  schema = await createTestSchema('acc_examples');
  await createDefaultTable(schema);
  await insertRows(schema, Array.from({ length: 25 }, (_, i) => ({ age: `${i + 1} hours`, operator: 'new', operation: 'create' })));
  scratch = await mkdtemp(join(tmpdir(), 'api7-audit-examples-'));
  binDir = await installBinary(join(scratch, 'bin'));
});
afterAll(() => schema.drop());

/** `api7-audit` on PATH, as `npm install -g` puts it, with `args` first (a --config for the CI script). */
async function installBinary(dir: string, args = ''): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'api7-audit'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" ${args} "$@"\n`);
  await chmod(join(dir, 'api7-audit'), 0o755);
  return dir;
}

const insertOld = () => insertRows(schema, Array.from({ length: 40 }, (_, i) => ({ age: `${100 + i} days`, operator: 'old', operation: 'update' })));
const scripts = (await readdir(EXAMPLES)).filter((name) => name.endsWith('.sh'));
const pathEnv = () => `${binDir}:/usr/local/bin:/usr/bin:/bin`;

/** The command of the crontab line and of the unit's ExecStart, with their own escapes of % undone. */
async function shippedCommands(): Promise<Record<string, string>> {
  const crontab = (await readFile(join(EXAMPLES, 'prune.crontab'), 'utf8')).split('\n').filter((line) => /^\d/.test(line));
  const unit = await readFile(join(EXAMPLES, 'api7-audit-prune.service'), 'utf8');
  const exec = /^ExecStart=\/bin\/sh -c '(.*)'$/m.exec(unit)?.[1];
  expect(crontab).toHaveLength(1);
  expect(exec).toBeDefined();
  return {
    crontab: (crontab[0] as string).split(/\s+/).slice(6).join(' ').replaceAll('\\%', '%'),
    systemd: (exec as string).replaceAll('%%', '%'),
  };
}

/** Points the shipped paths at the scratch directory. */
function localize(command: string, dir: string): string {
  return command
    .replaceAll('/etc/api7-audit/api7-audit.yaml', join(dir, 'api7-audit.yaml'))
    .replaceAll('/usr/local/api7/conf/conf.yaml', join(dir, 'conf.yaml'))
    .replaceAll('/var/backups/api7-audit', join(dir, 'backups'))
    .replaceAll('/var/log/api7-audit', dir);
}

describe('examples/ as shipped', () => {
  it.each(scripts)('%s is valid bash', async (name) => {
    await expect(run('bash', ['-n', join(EXAMPLES, name)])).resolves.toBeDefined();
  });

  it.skipIf(!shellcheck && !process.env.CI).each(scripts)('%s passes shellcheck', async (name) => {
    await expect(run('shellcheck', [join(EXAMPLES, name)])).resolves.toBeDefined();
  });

  it('export-ci.sh ships every entry to a HEC and keeps its checkpoint', async () => {
    let server: FakeServer | undefined;
    try {
      const started = await FakeHec.start();
      server = started.server;
      const state = join(scratch, 'state');
      // The table comes from a config file, as a CI job would keep it beside the script.
      await writeFile(join(scratch, 'ci.yaml'), `table: ${schema.table()}\n`);
      const ciBin = await installBinary(join(scratch, 'ci-bin'), `--config ${join(scratch, 'ci.yaml')}`);
      const env = {
        PATH: `${ciBin}:/usr/bin:/bin`,
        API7_AUDIT_DATABASE_URL: databaseUrl(),
        API7_AUDIT_HEC_TOKEN: 'hec-token',
        HEC_URL: server.url,
        STATE_DIR: state,
      };
      await run('bash', [join(EXAMPLES, 'export-ci.sh')], { env }).catch(
        (error: { stderr?: string }) => {
          throw new Error(`export-ci.sh failed: ${error.stderr}`);
        },
      );
      expect(started.hec.ids.unique).toBe(25);
      const summary = JSON.parse(await readFile(join(state, 'last-export.json'), 'utf8')) as { exported: number };
      expect(summary.exported).toBe(25);
      expect(JSON.parse(await readFile(join(state, 'hec-checkpoint.json'), 'utf8'))).toHaveProperty('id');
    } finally {
      await server?.close();
    }
  });

  it.each(['crontab', 'systemd'])('the %s prune command is valid sh and prunes with its archive', async (kind) => {
    const dir = join(scratch, kind);
    await mkdir(join(dir, 'backups'), { recursive: true });
    await writeFile(join(dir, 'api7-audit.yaml'), `database:\n  url: ${databaseUrl()}\ntable: ${schema.table()}\n`);
    await writeFile(join(dir, 'conf.yaml'), 'audit:\n  retention_days: 200\n');
    await insertOld();
    const command = localize((await shippedCommands())[kind] as string, dir);
    await expect(run('sh', ['-n', '-c', command])).resolves.toBeDefined();
    await run('sh', ['-c', command], { env: { PATH: pathEnv() } });
    // Retention 200 days: nothing is old enough yet; the run still writes its JSON summary where the line says.
    const log = kind === 'crontab' ? await readFile(join(dir, 'prune.log'), 'utf8') : '';
    if (kind === 'crontab') expect(JSON.parse(log.trim().split('\n').at(-1) as string)).toMatchObject({ retention_days: 200, deleted: 0 });
    await writeFile(join(dir, 'conf.yaml'), 'audit:\n  retention_days: 90\n');
    const { stdout } = await run('sh', ['-c', command.replace(/>>.*$/, '')], { env: { PATH: pathEnv() } });
    expect(JSON.parse(stdout)).toMatchObject({ retention_days: 90, retention_source: 'cp-config', deleted: 40, complete: true });
    const archives = await readdir(join(dir, 'backups'));
    expect(archives).toEqual([expect.stringMatching(/^pruned-\d{4}-\d{2}-\d{2}\.ndjson\.gz$/)]);
  });
});
