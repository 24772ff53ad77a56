import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/config-file.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { UsageError } from '../../src/errors.js';

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'api7-audit-config-'));
  const path = join(dir, 'api7-audit.yaml');
  await writeFile(path, text);
  return path;
}

describe('config file', () => {
  it('the shipped example is valid', async () => {
    const example = fileURLToPath(new URL('../../examples/api7-audit.yaml', import.meta.url));
    await expect(loadConfigFile(example)).resolves.toMatchObject({ table: 'audit_logs', retention_days: 60 });
  });

  it('collects every problem into one usage error', async () => {
    const path = await configFile('tabel: x\ndatabase: { url: 5, port: 1 }\ncolumns: { actor: who, id: "" }\nretention_days: 0\nsecrets: { mode: all }\n');
    const error = await loadConfigFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    for (const part of ["unknown key 'tabel'", "'database.url' must be a string", "unknown key 'database.port'", "unknown field 'columns.actor'", "'columns.id' must be a column name", "'retention_days' must be a whole number", "'secrets.mode'"]) {
      expect(message).toContain(part);
    }
  });

  it('names the file when it is missing or not YAML', async () => {
    await expect(loadConfigFile('/nonexistent/api7.yaml')).rejects.toThrow(`cannot read config file '/nonexistent/api7.yaml': no such file`);
    const path = await configFile('table: [unclosed\n');
    await expect(loadConfigFile(path)).rejects.toThrow(/is not valid YAML/);
  });

  it('flags beat environment variables, which beat the file; the file beats defaults', async () => {
    const path = await configFile('database: { url: "postgres://file@h/f", connect_timeout: 3 }\ntable: cp.events\n');
    const fromFile = await resolveConfig({ config: path }, {}, '/');
    expect(fromFile).toMatchObject({ table: 'cp.events', connectTimeoutMs: 3000, connection: { url: 'postgres://file@h/f' } });
    const fromFlags = await resolveConfig({ config: path, table: 't2', connectTimeout: 1, db: 'postgres://flag@h/x' }, { DATABASE_URL: 'postgres://env@h/e' }, '/');
    expect(fromFlags).toMatchObject({ table: 't2', connectTimeoutMs: 1000, connection: { url: 'postgres://flag@h/x' } });
    const fromEnv = await resolveConfig({ config: path }, { DATABASE_URL: 'postgres://env@h/e' }, '/');
    expect(fromEnv.connection?.url).toBe('postgres://env@h/e');
    // No config file in the (empty) home; PGHOST names the server, since naming none is an error.
    const empty = await mkdtemp(join(tmpdir(), 'api7-audit-empty-'));
    const defaults = await resolveConfig({}, { PGHOST: 'h', HOME: empty }, empty);
    expect(defaults).toMatchObject({ table: 'audit_logs', connectTimeoutMs: 10_000, configPath: undefined });
  });
});
