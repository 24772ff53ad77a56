import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';

// The export's byte scanner (src/secrets/scan-bytes.ts) with fingerprints on, and header lines written without a space
// after the colon, through the built binary: what each row becomes on HEC and in list -o ndjson.

const KEY = 'fast-path-fingerprint-key';
const fingerprint = (value: string) => `******(hmac-sha256:${createHmac('sha256', KEY).update(value, 'utf8').digest('hex').slice(0, 12)})`;

let schema: TestSchema;
let hec: { server: FakeServer; hec: FakeHec };
beforeAll(async () => {
  schema = await createTestSchema('acc_mask_bytes');
  await createDefaultTable(schema);
  const plain = (i: number): SeedRow => ({ age: `${600 - i} seconds`, operator: 'bob', operation: 'update', resource_type: 'route', resource_id: `r-${i}`, before: { id: i, uri: '/a' }, after: { id: i, uri: '/b' } });
  const rows: SeedRow[] = Array.from({ length: 500 }, (_, i) => plain(i));
  rows.push(
    { age: '50 seconds', operator: 'carol', operation: 'update', resource_type: 'consumer', resource_id: 'c-1', before: null, after: { username: 'c', plugins: { 'key-auth': { key: 'CNRYfast-keyauth' }, 'limit-count': { key: 'remote_addr' } } } },
    { age: '40 seconds', operator: 'carol', operation: 'update', resource_type: 'route', resource_id: 'r-cookie', before: null, after: { note: 'Cookie:sid=CNRYfast-cookie', other: 'cookie:CNRYfast-lower' } },
    { age: '35 seconds', operator: 'carol', operation: 'update', resource_type: 'route', resource_id: 'r-env', before: null, after: { env: [{ name: 'PARTNER_SIGNATURE', value: 'SITEfast-envlist' }] } },
    { age: '30 seconds', operator: 'apikey:ci-deployer', operation: 'update', resource_type: 'route', resource_id: 'r-op', before: null, after: { note: 'apikey:ci-deployer', password: 'CNRYfast-password' } },
  );
  await insertRows(schema, rows);
  hec = await FakeHec.start();
}, 120_000);
afterAll(async () => {
  await Promise.all([schema.drop(), hec.server.close()]);
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env, timeoutMs: 120_000 });
/** Each canary in a text, for a short failure message. */
const leaks = (text: string) => [...new Set(text.match(/CNRYfast[-a-z]*/g) ?? [])];
const ok = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  return result;
};

describe('masking on the byte path', () => {
  it('export to HEC and list -o ndjson with --secret-fingerprints: each secret is its fingerprint, no canary leaks, an operator-like apikey:name stays', async () => {
    const env = { API7_AUDIT_FINGERPRINT_KEY: KEY, API7_AUDIT_HEC_TOKEN: 'hec-token' };
    ok(await cli(['--secret-fingerprints', 'export', '--settle', '0', '--hec-url', hec.server.url], env));
    const sent = JSON.stringify(hec.hec.events);
    expect(hec.hec.events.length).toBe(504);
    const listed = ok(await cli(['--secret-fingerprints', 'list', '--all', '--output', 'ndjson'], env)).stdout;
    for (const text of [sent, listed]) {
      expect(leaks(text)).toEqual([]);
      expect(text.includes(KEY)).toBe(false);
      const expected = [fingerprint('CNRYfast-keyauth'), fingerprint('CNRYfast-password'), `Cookie:${fingerprint('sid=CNRYfast-cookie')}`, `cookie:${fingerprint('CNRYfast-lower')}`, '"note":"apikey:ci-deployer"', '"key":"remote_addr"'];
      expect(expected.filter((part) => !text.includes(part))).toEqual([]);
    }
  });

  it('a site-specific secret name from the config file masks a name/value list item on export and list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'api7-mask-bytes-'));
    try {
      const config = join(dir, 'site.yaml');
      await writeFile(config, 'secrets:\n  keys: [partner_signature]\n', { mode: 0o600 });
      const out = join(dir, 'out.ndjson');
      ok(await cli(['--config', config, 'export', '--settle', '0', '--out', out]));
      const listed = ok(await cli(['--config', config, 'list', '--all', '--output', 'ndjson'])).stdout;
      for (const text of [listed, await readFile(out, 'utf8')]) {
        expect(leaks(text)).toEqual([]);
        expect(text.includes('SITEfast'), 'the site-specific secret').toBe(false);
        expect(text.includes('"name":"PARTNER_SIGNATURE","value":"******"')).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without a key, the same rows show ****** and no canary', async () => {
    const listed = ok(await cli(['list', '--all', '--output', 'ndjson'])).stdout;
    expect(leaks(listed)).toEqual([]);
    expect(listed.includes('"note":"Cookie:******"')).toBe(true);
    expect(listed.split('\n').filter(Boolean).length).toBe(504);
  });
});
