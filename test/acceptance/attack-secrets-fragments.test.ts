import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';

// Leaks found by H51's attack on "no secret shown" (2026-12-05), each shown whole by the binary of a1b8954 on every
// path: JSON members in a string that is not itself a JSON document (text before the brace, NDJSON, a bare member, a
// stringified object escaped once or twice more), and credential headers inside a line rather than at its start
// (`curl -H "Authorization: Basic ..."`, a log line's `headers: Cookie: sid=...`). Spawns the built binary against
// the real server (TEST_DATABASE_URL): list (table, json, ndjson, csv), show, history, export to a file and to HEC.

const CANARY = 'FRG';
let serial = 0;
const canary = (where: string) => `${CANARY}${(serial += 1)}x${where.replace(/[^A-Za-z0-9]/g, '')}`;
const leaks = (text: string) => [...new Set(text.match(new RegExp(`${CANARY}\\d+x[A-Za-z0-9]*`, 'g')) ?? [])];
const both = (result: CliResult) => result.stdout + result.stderr;
const ok = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  return result;
};
const HEC_TOKEN = 'hec-fragments-T0ken';
const FINGERPRINT_KEY = 'fragments-fingerprint-key';

/** Strings holding JSON members (each with a canary where a secret is), as a log line or a note would. */
function fragments(): Record<string, string> {
  return {
    body: `request body {"username":"visible-user","password":"${canary('body')}"} sent`,
    member: `"token": "${canary('member')}"`,
    ndjson: `{"a":1}\n{"client_secret": "${canary('ndjson')}", "visible": "visible-ndjson"}`,
    trailing: `{"api_key": "${canary('trailing')}"} and more`,
    escaped: `{\\"password\\":\\"${canary('escaped')}\\",\\"host\\":\\"visible-escaped\\"}`,
    stringified: JSON.stringify(JSON.stringify({ secret: canary('twice'), host: 'visible-twice' })),
    context: `config ${JSON.stringify({ plugins: { 'key-auth': { key: canary('keyauth') } } })}`,
    nested: `x {"secrets": {"a": "${canary('nesteda')}", "b": ["${canary('nestedb')}"]}, "after": "visible-nested"}`,
    spelled: `x {"pass\\u0077ord": "${canary('spelled')}"}`,
    kelvin: `x {"\u212Aey": "${canary('kelvin')}"}`,
    cjk: `日本語 {"password": "${canary('cjk')}"} 中文`,
    long: `${'y'.repeat(100_000)} {"password": "${canary('long')}"}`,
    curl: `curl -H "Authorization: Basic ${canary('curlbasic')}" -H 'X-API-Key: ${canary('curlkey')}' https://visible-curl.example/v1`,
    inline: `headers: Cookie: sid=${canary('inlinecookie')}; theme=dark`,
    sentence: 'no Authorization: here, visible-sentence',
  };
}

let schema: TestSchema;
let dir: string;
let id: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-attack-fragments-'));
  schema = await createTestSchema('atk_fragments');
  await createDefaultTable(schema);
  [id] = (await insertRows(schema, [{ age: '1 minute', operator: 'alice', operation: 'update', resource_type: 'route', resource_id: 'frag', resource_name: 'frag',
    before: { uri: '/visible-uri' }, after: { uri: '/visible-uri', notes: fragments() } }])) as [string];
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env, timeoutMs: 60_000 });

/** Every output of the entry, by path, with `extra` flags before the command (fingerprints). */
async function outputs(extra: string[], env: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const run = async (args: string[]) => both(ok(await cli([...extra, ...args], env)));
  const file = join(dir, `export-${extra.length}.ndjson`);
  const texts = new Map<string, string>();
  for (const output of ['table', 'json', 'ndjson', 'csv']) texts.set(`list ${output}`, await run(['list', '--all', '--output', output]));
  texts.set('show', await run(['show', id]));
  texts.set('show json', await run(['show', id, '--output', 'json']));
  texts.set('history', await run(['history', 'route:frag']));
  texts.set('history json', await run(['history', 'route:frag', '--output', 'json']));
  texts.set('export --out', `${await run(['export', '--out', file])}${await readFile(file, 'utf8')}`);
  const { server, hec } = await FakeHec.start({ token: HEC_TOKEN });
  try {
    texts.set('export HEC', `${await run(['export', '--hec-url', server.url]).then((text) => text)}${JSON.stringify(hec.events)}`);
  } finally {
    await server.close();
  }
  return texts;
}

describe('JSON members and header lines inside strings', () => {
  it.each([
    ['masks', [], {}],
    ['fingerprints', ['--secret-fingerprints'], { API7_AUDIT_FINGERPRINT_KEY: FINGERPRINT_KEY }],
  ] as const)('%s every canary on every path; the text around them stays readable', async (_, extra, env) => {
    const texts = await outputs([...extra], { API7_AUDIT_HEC_TOKEN: HEC_TOKEN, ...env });
    const found = Object.fromEntries([...texts].map(([path, text]) => [path, leaks(text)]));
    expect(found).toEqual(Object.fromEntries([...texts.keys()].map((path) => [path, []])));
    // The full states are in the JSON outputs; the text around each secret is kept.
    for (const path of ['list ndjson', 'show json', 'history json', 'export --out', 'export HEC']) {
      const text = texts.get(path) as string;
      const kept = ['visible-user', 'visible-ndjson', 'visible-escaped', 'visible-twice', 'visible-nested', 'visible-curl.example', 'visible-sentence', 'no Authorization: here'];
      // Not toContain: the message would print the 100 kB string.
      expect(kept.filter((word) => !text.includes(word)), path).toEqual([]);
    }
    // The same secret reads the same on every path: each fingerprint listed is exported, and the other way round.
    const prints = (path: string) => [...new Set((texts.get(path) as string).match(/hmac-sha256:[0-9a-f]{12}/g) ?? [])].sort();
    for (const path of ['show json', 'history json', 'export --out', 'export HEC']) expect(prints(path), path).toEqual(prints('list ndjson'));
  });
});
