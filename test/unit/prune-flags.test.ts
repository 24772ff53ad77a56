import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { readControlPlaneRetention } from '../../src/config/cp-config.js';
import { UsageError } from '../../src/errors.js';
import { DEFAULT_BATCH_SIZE, parsePruneFlags, type PruneFlags } from '../../src/commands/prune/command.js';

let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prune-flags-'));
  await writeFile(file('cp.yaml'), 'deployment:\n  role: control_plane\naudit:\n  retention_days: 14\n');
  await writeFile(file('cp-no-key.yaml'), 'audit:\n  enabled: true\n');
  await writeFile(file('cp-no-audit.yaml'), 'server:\n  listen: 7080\n');
  await writeFile(file('cp-empty.yaml'), '');
  await writeFile(file('cp-bad-yaml.yaml'), 'audit: [retention_days: 3\n');
  await writeFile(file('cp-zero.yaml'), 'audit:\n  retention_days: 0\n');
  await writeFile(file('cp-text.yaml'), 'audit:\n  retention_days: "30"\n');
  await writeFile(file('cp-fraction.yaml'), 'audit:\n  retention_days: 1.5\n');
  await writeFile(file('cp-list.yaml'), '- audit\n');
  await writeFile(file('cp-audit-scalar.yaml'), 'audit: 30\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const parse = (flags: PruneFlags, configRetentionDays?: number) => parsePruneFlags(flags, { cwd: dir, configRetentionDays });

describe('prune flags', () => {
  it('has defaults: 60 days, batches sized to a time budget, text output, no archive', async () => {
    expect(await parse({})).toEqual({
      retention: { days: 60, source: 'default' },
      dryRun: false,
      batchSize: DEFAULT_BATCH_SIZE,
      maxDurationMs: undefined,
      archive: undefined,
      detachOnly: false,
      yes: false,
      output: 'text',
      showSecrets: false,
    });
  });

  it('takes every flag', async () => {
    const options = await parse({
      retentionDays: '30',
      dryRun: true,
      batchSize: '250',
      maxDuration: '10m',
      archive: 'out/pruned.ndjson.gz',
      detachOnly: true,
      yes: true,
      json: true,
      showSecrets: true,
    });
    expect(options).toMatchObject({
      retention: { days: 30, source: 'flag' },
      dryRun: true,
      batchSize: 250,
      maxDurationMs: 600_000,
      archive: join(dir, 'out/pruned.ndjson.gz'),
      detachOnly: true,
      yes: true,
      output: 'json',
      showSecrets: true,
    });
  });

  it.each(['0', '-3', 'abc', '1.5', '', ' ', '7d', '36501'])('--retention-days %j is a usage error naming it', async (value) => {
    await expect(parse({ retentionDays: value })).rejects.toThrow(UsageError);
    await expect(parse({ retentionDays: value })).rejects.toThrow(`invalid --retention-days '${value}'`);
  });

  it.each(['0', '-1', 'x', '100001'])('--batch-size %j is a usage error', async (value) => {
    await expect(parse({ batchSize: value })).rejects.toThrow(`invalid --batch-size '${value}'`);
  });

  it.each([
    ['90s', 90_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2h30m', 9_000_000],
  ])('--max-duration %s is %i ms', async (text, ms) => {
    expect((await parse({ maxDuration: text })).maxDurationMs).toBe(ms);
  });

  it.each(['0s', '-5m', '45', '10 m', 'forever'])('--max-duration %j is a usage error', async (text) => {
    await expect(parse({ maxDuration: text })).rejects.toThrow(`invalid --max-duration '${text}'`);
  });

  it.each(['', '-'])('--archive %j is a usage error', async (value) => {
    await expect(parse({ archive: value })).rejects.toThrow(`invalid --archive '${value}'`);
  });
});

describe('retention precedence', () => {
  it('--retention-days beats conf.yaml, which beats the config file, which beats 60', async () => {
    expect((await parse({ retentionDays: '7', cpConfig: 'cp.yaml' }, 30)).retention).toEqual({ days: 7, source: 'flag' });
    expect((await parse({ cpConfig: 'cp.yaml' }, 30)).retention).toEqual({ days: 14, source: 'cp-config' });
    expect((await parse({}, 30)).retention).toEqual({ days: 30, source: 'config' });
    expect((await parse({})).retention).toEqual({ days: 60, source: 'default' });
  });

  it.each(['cp-no-key.yaml', 'cp-no-audit.yaml', 'cp-empty.yaml'])('a conf.yaml without audit.retention_days (%s) falls through', async (name) => {
    expect((await parse({ cpConfig: name }, 30)).retention).toEqual({ days: 30, source: 'config' });
    expect((await parse({ cpConfig: name })).retention).toEqual({ days: 60, source: 'default' });
  });

  it.each([
    ['missing.yaml', `cannot read control plane config '${'missing.yaml'}': no such file`],
    ['cp-bad-yaml.yaml', 'is not valid YAML'],
    ['cp-zero.yaml', `'audit.retention_days' must be a whole number from 1 to 36500, got 0`],
    ['cp-text.yaml', `got "30"`],
    ['cp-fraction.yaml', 'got 1.5'],
    ['cp-list.yaml', 'expected a mapping at the top level'],
    ['cp-audit-scalar.yaml', `'audit' must be a mapping`],
  ])('a bad conf.yaml (%s) is a usage error naming the file, even when --retention-days is given', async (name, message) => {
    const path = file(name);
    await expect(readControlPlaneRetention(path)).rejects.toThrow(UsageError);
    await expect(readControlPlaneRetention(path)).rejects.toThrow(path === file('missing.yaml') ? `'${path}': no such file` : message);
    await expect(parse({ cpConfig: name, retentionDays: '5' })).rejects.toThrow(path);
  });
});

describe('prune command line', () => {
  function parseArgv(argv: string[]): Promise<PruneFlags> {
    return new Promise((resolve, reject) => {
      const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, cwd: dir, stdoutIsTty: false, stderrIsTty: false };
      const program = buildProgram(io);
      program.commands.find((command) => command.name() === 'prune')?.action(function () {
        resolve(this.opts() as PruneFlags);
      });
      program.parseAsync(argv, { from: 'user' }).catch(reject);
    });
  }

  it('passes the raw flags to the prune action', async () => {
    const flags = await parseArgv(['prune', '--retention-days', '30', '--cp-config', 'cp.yaml', '--dry-run', '--batch-size', '100', '--max-duration', '5m',
      '--archive', 'a.ndjson', '--detach-only', '-y', '--json', '--show-secrets']);
    expect(flags).toMatchObject({
      retentionDays: '30', cpConfig: 'cp.yaml', dryRun: true, batchSize: '100', maxDuration: '5m', archive: 'a.ndjson',
      detachOnly: true, yes: true, json: true, showSecrets: true,
    });
  });

  it('takes a negative number as the value of --retention-days, so it is reported as such', async () => {
    const flags = await parseArgv(['prune', '--retention-days', '-3']);
    expect(flags.retentionDays).toBe('-3');
    await expect(parse(flags)).rejects.toThrow(`invalid --retention-days '-3'`);
  });
});
