// Attack on history's masking by the entry's JSON text (45e4576) through the built binary and the real server: no
// canary in any output, history's entries equal show's, NDJSON equals JSON, a rotated secret shows as changed, and
// the diff's shortcut (containers with equal JSON text are skipped) misses no change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createTestSchema, databaseUrl, type TestSchema } from '../support/database.js';

let schema: TestSchema;
const FINGERPRINT_KEY = 'h45-history-masking-key-0123456789abcdef';
const canaries: string[] = [];
let serial = 0;
const canary = () => {
  const value = `CanaryH45x${(serial += 1)}q`;
  canaries.push(value);
  return value;
};
const nest = (levels: number, leaf: string) => {
  let text = leaf;
  for (let i = 0; i < levels; i++) text = `{"n":${text}}`;
  return text;
};

/** State texts as a writer stores them (escapes, duplicate keys and all), each shape given a fresh canary per call. */
const SHAPES: Record<string, (secret: string) => string> = {
  declared: (v) => `{"uri":"/p","plugins":{"key-auth":{"key":"${v}"},"openid-connect":{"client_id":"gw","client_secret":"${v}o"}}}`,
  camel: (v) => `{"clientSecret":"${v}","upstreamApiKey":"${v}k"}`,
  url: (v) => `{"endpoint":"https://user:${v}@host.example/x","redis":"redis://:${v}r@h.example:6379"}`,
  headers: (v) => `{"headers":{"Authorization":"Bearer ${v}","Cookie":"sid=${v}c; a=1"},"list":["Authorization: Bearer ${v}l"]}`,
  pem: (v) => `{"note":${JSON.stringify(`-----BEGIN PRIVATE KEY-----\nMIIB${v}AAA\n-----END PRIVATE KEY-----`)}}`,
  jsonInString: (v) => `{"config":${JSON.stringify(JSON.stringify({ password: v }))}}`,
  escapedKey: (v) => `{"pass\\u0077ord":"${v}","db\\u005fpassword":"${v}e"}`,
  oddKeys: (v) => `{"password\\u00a0":"${v}","password\\u2028":"${v}l","Ä":{"apiKey":"${v}u"}}`,
  proto: (v) => `{"__proto__":{"password":"${v}"},"a":1}`,
  duplicates: (v) => `{"password":"plain-dup","password":"${v}","plugins":{"key-auth":{"key":"dup"},"key-auth":{"key":"${v}d"}}}`,
  huge: (v) => `{"desc":"${'é'.repeat(100_000)}","password":"${v}"}`,
  deep199: (v) => nest(199, `{"password":"${v}"}`),
  deep201: (v) => nest(201, `{"password":"${v}"}`),
  // Past V8's stack for JSON.stringify: history failed with "Maximum call stack size exceeded" where show and list work.
  deep9000: (v) => nest(9000, `{"password":"${v}"}`),
  bigNumbers: (v) => `{"token":"${v}","n":12345678901234567890,"e":1e400}`,
  // A secret holding an object: its inner key names are part of what is hidden, in the entry and in the changes.
  innerKeys: (v) => `{"token":{"${v}":"x","inner":{"${v}n":1}},"uri":"/i"}`,
  ssl: (v) => `{"sni":"a.example","key":"${v}","keys":["${v}k"]}`,
};

const RESOURCES = Object.keys(SHAPES);

beforeAll(async () => {
  schema = await createTestSchema('ahm');
  // json, not jsonb: the text as written, duplicate keys and escapes kept.
  await schema.query(`create table ${schema.table()} (id bigserial primary key, created_at timestamptz not null, operator text,
    operation text, resource_type text, resource_id text, resource_name text, source_ip inet, source text, before json, after json)`);
  let second = 0;
  const insert = (type: string, id: string, before: string | null, after: string | null) =>
    schema.query(`insert into ${schema.table()} (created_at, operator, operation, resource_type, resource_id, before, after) values ($1, 'op', $2, $3, $4, $5, $6)`, [
      new Date(Date.UTC(2026, 0, 1, 0, 0, (second += 1))).toISOString(),
      before === null ? 'CREATE' : after === null ? 'DELETE' : 'UPDATE',
      type,
      id,
      before,
      after,
    ]);
  for (const [name, shape] of Object.entries(SHAPES)) {
    const type = name === 'ssl' ? 'ssl' : 'route';
    const [first, rotated] = [shape(canary()), shape(canary())];
    await insert(type, name, null, first);
    await insert(type, name, first, rotated);
    await insert(type, name, rotated, null);
  }
  // Values JSON.stringify prints alike: 1e400 (Infinity once parsed) and -1e400 print as null, as null does.
  await insert('route', 'inf', '{"a":{"x":1}}', '{"a":{"x":1e400}}');
  await insert('route', 'inf', '{"a":{"x":1e400}}', '{"a":{"x":null}}');
  await insert('route', 'inf', '{"a":{"x":null}}', '{"a":{"x":-1e400}}');
}, 60_000);
afterAll(async () => {
  await schema?.drop();
});

const run = (args: string[], fingerprints = false) =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env: { ...process.env, API7_AUDIT_FINGERPRINT_KEY: fingerprints ? FINGERPRINT_KEY : undefined } });

type Entry = Record<string, unknown> & { changes: { path: string; before?: unknown; after?: unknown }[] };

describe('history: masking by the entry text', () => {
  it('no canary in any output; NDJSON equals JSON; entries equal show; a rotated secret is a change', { timeout: 240_000 }, async () => {
    for (const resource of RESOURCES) {
      const key = `${resource === 'ssl' ? 'ssl' : 'route'}:${resource}`;
      for (const fingerprints of [false, true]) {
        const extra = fingerprints ? ['--secret-fingerprints'] : [];
        const outputs = [];
        for (const args of [[], ['-o', 'json'], ['-o', 'ndjson'], ['--at', '2026-01-01T00:00:00.5Z', '-o', 'json'], ['--diff', '2025-12-31..2027-01-01'], ['--diff', '2025-12-31..2027-01-01', '-o', 'json']]) {
          const result = await run(['history', key, ...args, ...extra], fingerprints);
          expect(result.code, `${key} ${args.join(' ')} ${result.stderr}`).toBe(0);
          for (const value of canaries) expect(result.stdout + result.stderr, `${key} ${args.join(' ')}`).not.toContain(value);
          outputs.push(result.stdout);
        }
        const entries = (JSON.parse(outputs[1] ?? '') as { entries: Entry[] }).entries;
        const lines = (outputs[2] ?? '').trim().split('\n').map((line) => JSON.parse(line) as Entry);
        expect(lines, key).toEqual(entries);
        expect(entries, key).toHaveLength(3);
        for (const entry of entries) {
          const shown = await run(['show', String(entry.id), '-o', 'json', ...extra], fingerprints);
          expect(entry, `${key} ${String(entry.id)}`).toEqual(JSON.parse(shown.stdout));
        }
        // The rotation: a change listed, both sides masked (equal masks, or fingerprints that differ).
        const rotation = entries[1]?.changes ?? [];
        expect(rotation.length, key).toBeGreaterThan(0);
        for (const change of rotation) {
          const [before, after] = [JSON.stringify(change.before), JSON.stringify(change.after)];
          expect(before === after && before.includes('******'), `${key} ${JSON.stringify(change)}`).toBe(!fingerprints || /^deep(201|9000)$/.test(resource));
        }
      }
    }
  });

  it('a value changed between 1e400, null and -1e400 (all printed null) is listed as changed, in JSON and in the table', async () => {
    const parsed = JSON.parse((await run(['history', 'route:inf', '-o', 'json'])).stdout) as { entries: Entry[] };
    expect(parsed.entries.map((entry) => entry.changes.map((change) => change.path))).toEqual([['$.a.x'], ['$.a.x'], ['$.a.x']]);
    const table = await run(['history', 'route:inf']);
    expect(table.stdout).not.toContain('(no change to the state)');
  });
});
