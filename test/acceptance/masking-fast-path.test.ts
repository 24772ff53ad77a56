import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';

// The shapes that slipped past the export's pre-check (names padded with what trim() removes, SSL objects, contextual
// keys decided by their parent) and what masking at the hits must leave readable, through the built binary and a
// real server: export to HEC and to a file, list -o ndjson. Every CNRYhit value must be masked; every KEEPhit value
// must stay.

let schema: TestSchema;
let hec: { server: FakeServer; hec: FakeHec };
const row = (i: number, resource_type: string, after: unknown): SeedRow => ({ age: `${100 - i} seconds`, operator: 'carol', operation: 'update', resource_type, resource_id: `x-${i}`, before: null, after });

beforeAll(async () => {
  schema = await createTestSchema('acc_mask_hits');
  await createDefaultTable(schema);
  const plain = (i: number): SeedRow => ({ age: `${900 - i} seconds`, operator: 'bob', operation: 'update', resource_type: 'route', resource_id: `r-${i}`, before: { id: i, uri: '/a' }, after: { id: i, uri: '/b' } });
  await insertRows(schema, [
    ...Array.from({ length: 200 }, (_, i) => plain(i)),
    row(1, 'route', { plugins: { 'key-auth ': { key: 'CNRYhit-padded-plugin' }, 'limit-count': { key: 'KEEPhit-remote-addr' } } }),
    row(2, 'route', { 'plugins\u00a0': [{ name: 'key-auth', config: { key: 'CNRYhit-padded-list' } }] }),
    row(3, 'ssl ', { id: 's', key: 'CNRYhit-padded-ssl-type', ext: { key: 'KEEPhit-nested-ssl' } }),
    row(4, 'route', { 'password\u00a0': 'CNRYhit-nbsp-key', '\u3000token': 'CNRYhit-ideographic-key' }),
    row(5, 'route', { tls: { client_cert: 'c', client_key: 'CNRYhit-client-key' }, upstream: { cert: 'c', key: 'CNRYhit-cert-sibling' } }),
    row(6, 'consumer', { plugins: { 'Key-Auth': { header: 'apikey', key: 'CNRYhit-after-sibling' }, 'proxy-rewrite': { headers: { set: { 'X-Env': 'KEEPhit-headers' } } } } }),
    row(7, 'route', { plugins: { 'elasticsearch-logger\t': { headers: { Authorization: 'CNRYhit-es-headers' } } } }),
  ]);
  hec = await FakeHec.start();
}, 120_000);
afterAll(async () => {
  await Promise.all([schema.drop(), hec.server.close()]);
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env, timeoutMs: 120_000 });
const ok = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  return result;
};
const leaks = (text: string) => [...new Set(text.match(/CNRYhit[-a-z]*/g) ?? [])];
const KEPT = ['KEEPhit-remote-addr', 'KEEPhit-nested-ssl', 'KEEPhit-headers'];

describe('masking at the hits, through the binary', () => {
  it('export to HEC and to a file, and list -o ndjson: every padded or contextual secret masked, the readable values kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'api7-mask-hits-'));
    try {
      const out = join(dir, 'out.ndjson');
      ok(await cli(['export', '--settle', '0', '--hec-url', hec.server.url], { API7_AUDIT_HEC_TOKEN: 'hec-token' }));
      ok(await cli(['export', '--settle', '0', '--out', out]));
      const listed = ok(await cli(['list', '--all', '--output', 'ndjson'])).stdout;
      expect(hec.hec.events.length).toBe(207);
      for (const text of [JSON.stringify(hec.hec.events), await readFile(out, 'utf8'), listed]) {
        expect(leaks(text)).toEqual([]);
        expect(KEPT.filter((value) => !text.includes(value))).toEqual([]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a site name holding a quote, and one of dashes alone, from the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'api7-mask-hits-site-'));
    try {
      const config = join(dir, 'site.yaml');
      await writeFile(config, `secrets:\n  keys: ['a"b', '-', 'pwd_']\n`, { mode: 0o600 });
      await insertRows(schema, [row(8, 'route', { 'a"b': 'CNRYhit-quoted-site-name', '-': 'CNRYhit-dash-site-name', pwd_: 'CNRYhit-underscore-site-name', note: 'KEEPhit-note' })]);
      const listed = ok(await cli(['--config', config, 'list', '--all', '--output', 'ndjson'])).stdout;
      expect(leaks(listed)).toEqual([]);
      expect(listed).toContain('KEEPhit-note');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
