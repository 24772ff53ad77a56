import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createCustomLayout } from '../support/custom-layout.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

// The config file is read by a chunk that the bundle loads on demand (yaml): only the built binary shows whether it
// loads (it did not: `parse is not a function`, reported as "not valid YAML").
let schema: TestSchema;
let layoutDir: string;
let scratch: string;

beforeAll(async () => {
  schema = await createTestSchema('acc_config');
  layoutDir = await createCustomLayout(schema, 30, 'hours');
  scratch = await mkdtemp(join(tmpdir(), 'api7-audit-config-'));
});
afterAll(() => schema.drop());

const lines = (text: string) => text.split('\n').filter(Boolean);

describe('config files through the built binary', () => {
  it('--config maps a custom table: list reads it through the column mapping', async () => {
    const result = await spawnCli(['--config', join(layoutDir, 'api7-audit.yaml'), '--db', databaseUrl(), 'list', '--all', '-o', 'ndjson']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const entries = lines(result.stdout).map((line) => JSON.parse(line) as { id: string; operator: string });
    expect(entries).toHaveLength(30);
    expect(entries[0]?.id).toBe('ev-0001');
  });

  it('API7_AUDIT_CONFIG names the file (relative to the working directory)', async () => {
    const result = await spawnCli(['--db', databaseUrl(), 'list', '--limit', '3', '--json'], { cwd: layoutDir, env: { API7_AUDIT_CONFIG: 'api7-audit.yaml' } });
    expect(result.stderr).not.toMatch(/notice|warning|error/);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as unknown[]).length).toBe(3);
  });

  it('./api7-audit.yaml in the working directory is not read: a notice says how to use it', async () => {
    const result = await spawnCli(['--db', databaseUrl(), '--table', `${schema.name}.audit_events`, 'list', '--limit', '3', '--json'], { cwd: layoutDir });
    expect(lines(result.stderr)[0]).toBe('notice: ./api7-audit.yaml is ignored (config files are not read from the working directory); to use it, pass --config api7-audit.yaml');
    // Without the file's column mapping the custom table does not map: the run fails, naming a column it lacks.
    expect(result.code).not.toBe(0);
  });

  it('database.url, retention_days and secrets.keys come from the file', async () => {
    const file = join(scratch, 'full.yaml');
    await writeFile(
      file,
      `database:\n  url: ${databaseUrl()}\ntable: ${schema.name}.audit_events\n` +
        `columns: { id: event_id, timestamp: event_time, operator: actor, operation: action, resource_type: target_kind,\n` +
        `           resource_id: target_id, source_ip: client_ip, before: old_state, after: new_state }\n` +
        `retention_days: 1\nsecrets:\n  keys: [n]\n`,
    );
    const prune = await spawnCli(['--config', file, 'prune', '--dry-run', '--json']);
    expect(prune.stderr).toBe('');
    expect(prune.code).toBe(0);
    const summary = JSON.parse(prune.stdout) as { retention_days: number; retention_source: string; matched: number };
    expect(summary).toMatchObject({ retention_days: 1, retention_source: 'config' });
    // One entry an hour for 30 hours, inserted before the cutoff was taken: hours 24 to 30 are older than a day.
    expect(summary.matched).toBe(7);
    const list = await spawnCli(['--config', file, 'list', '--limit', '1', '--json']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('"n":"******"');
  });

  it('--cp-config reads the control plane conf.yaml', async () => {
    const cp = join(scratch, 'conf.yaml');
    await writeFile(cp, 'deployment:\n  role: control_plane\naudit:\n  retention_days: 2\n');
    const result = await spawnCli(['--config', join(layoutDir, 'api7-audit.yaml'), '--db', databaseUrl(), 'prune', '--cp-config', cp, '--dry-run', '--json']);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ retention_days: 2, retention_source: 'cp-config' });
  });

  it.each([
    ['--config', (file: string) => ['--config', file, '--db', databaseUrl(), 'list'], 'config file'],
    ['--cp-config', (file: string) => ['--db', databaseUrl(), 'prune', '--cp-config', file, '--dry-run'], 'control plane config'],
  ])('a %s file that is not YAML is one line naming it, exit 2', async (_flag, argv, what) => {
    const file = join(scratch, `bad-${what.length}.yaml`);
    await writeFile(file, 'table: [\n');
    const result = await spawnCli(argv(file));
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(new RegExp(`^error: ${what} '${file}' is not valid YAML: `))]);
    expect(result.stderr).not.toMatch(/is not a function|TypeError/);
  });
});
