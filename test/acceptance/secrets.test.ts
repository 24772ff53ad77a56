import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atPath, laidOutPath, readDeclaredFields } from '../support/apisix-fields.js';
import { BIN, spawnCli, startCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type SeedRow, type TestSchema } from '../support/database.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeHec } from '../support/fake-hec.js';
import { FakeServer, type FakeReply, type FakeRequest, type Protocol } from '../support/fake-server.js';

// Secret masking through the built binary (npm run build first), on every output path: a canary at every field that
// APISIX declares secret (../shared/reference/apisix-secret-fields.tsv, read here, never copied), in routes,
// services, consumers and credentials, and the generic cases no schema declares. No output may hold a canary.

const CANARY = 'CNRY';
const fields = readDeclaredFields();
let serial = 0;
/** A canary of its own for each place, so a leak names its field. */
const canary = (where: string) => `${CANARY}${(serial += 1)}-${where.replace(/[^A-Za-z0-9]/g, '_')}`;
/** A canary shaped as APISIX keeps the field: header and query maps (whose inner names must not show either), lists. */
const valueFor = (path: string, where: string): unknown =>
  /(headers|header|query)$/.test(path) ? { 'LEAK-name-in-map': canary(where) } : path.endsWith('keys') || path.endsWith('fallbacks') ? [canary(where)] : canary(where);

function merge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(from)) {
    const current = into[key];
    if (Array.isArray(current) && Array.isArray(value)) into[key] = current.map((item, index) => (typeof item === 'object' && item !== null ? merge(item as Record<string, unknown>, value[index] as Record<string, unknown>) : item));
    else if (typeof current === 'object' && current !== null && typeof value === 'object' && value !== null) merge(current as Record<string, unknown>, value as Record<string, unknown>);
    else into[key] = value;
  }
  return into;
}

/** Every plugin with a canary at each of its declared paths. */
function allPlugins(side: string): Record<string, unknown> {
  const plugins: Record<string, Record<string, unknown>> = {};
  for (const { kind, name, path } of fields) {
    if (kind !== 'plugin') continue;
    plugins[name] = merge(plugins[name] ?? { _meta: { disable: false } }, atPath(path, valueFor(path, `${side}.${name}.${path}`)));
  }
  return plugins;
}

function resourceState(name: string, side: string): Record<string, unknown> {
  let state: Record<string, unknown> = { id: `res-${name}`, desc: 'visible description' };
  for (const field of fields) if (field.kind === 'resource' && field.name === name) state = merge(state, atPath(field.path, valueFor(field.path, `${side}.${name}.${field.path}`)));
  if (name === 'ssl') state.cert = '-----BEGIN CERTIFICATE-----\nMIIvisible\n-----END CERTIFICATE-----';
  return state;
}

const JWT = (sub: string) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.c2ln${sub.replace(/[^A-Za-z0-9]/g, '')}`;

/** The generic cases: what no schema declares. */
function genericState(side: string): Record<string, unknown> {
  const c = (where: string) => canary(`${side}.${where}`);
  return {
    id: 'generic',
    accessToken: c('accessToken'), clientSecret: c('clientSecret'), refreshToken: c('refreshToken'), authToken: c('authToken'), privateKey: c('privateKey'),
    endpoint: `https://user:${c('urlpw')}@api.example/v1`,
    cache: `redis://:${c('redispw')}@cache.internal:6379/0`,
    headers_list: [
      { name: 'Authorization', value: `Bearer ${c('hdrobj')}` }, { name: 'X-Trace', value: 'visible-trace' }, { name: 'cookie', value: `sid=${c('cookieobj')}` },
      { name: 'X-Auth-Token', value: c('xauthobj') }, { name: 'Proxy-Authorization', value: `Basic ${c('proxyobj')}` }, { name: 'X-API-KEY', value: c('apikeyobj') },
      { value: `Bearer ${c('valuefirst')}`, name: 'Authorization' }, { key: 'apikey', value: c('keyvalue') }, { name: 'Cookie', values: [`a=${c('cookievalues')}`] },
    ],
    headers_lines: [
      `Authorization: Bearer ${c('hdrline')}`, `Cookie: sid=${c('cookieline')}`, `X-Auth-Token: ${c('xauthline')}`, `Proxy-Authorization: Basic ${c('proxyline')}`,
      `X-API-Key: ${c('apikeyline')}`, `Host: visible-host-line\r\nauthorization: Bearer ${c('secondline')}`,
    ],
    header_map: { Cookie: `sid=${c('cookiemap')}`, 'X-Auth-Token': c('xauthmap'), 'Proxy-Authorization': c('proxymap'), 'X-API-Key': c('apikeymap'), authorization: `Bearer ${c('authmap')}` },
    'proxy-rewrite-like': { headers: { set: { 'X-Api-Key': c('rewritekey'), Authorization: `Basic ${c('rewriteauth')}`, 'X-Visible': 'visible-set' } } },
    camel: { clientRSAPrivateKey: c('rsacamel'), redisPassword: c('rediscamel'), sessionToken: c('sessioncamel'), apiKey: c('apikeycamel'), AccessToken: c('pascal'), 'client-secret': c('kebab'), CLIENT_SECRET: c('upper') },
    callback: `https://app.example/cb?id_token=${JWT(c('jwturl'))}&state=visible-state`,
    url_with_at: `https://svc:${c('atpw')}@x@db.example:5432/app`,
    openssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${c('openssh')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    encrypted: `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${c('encrypted')}\n-----END ENCRYPTED PRIVATE KEY-----`,
    nested_json: JSON.stringify({ outer: JSON.stringify({ token: c('doublejson') }), headers: [`Cookie: ${c('jsonline')}`] }),
    pem: `-----BEGIN PRIVATE KEY-----\n${c('pem')}\n-----END PRIVATE KEY-----`,
    signing_key: `-----BEGIN EC PRIVATE KEY-----\n${c('signing')}\n-----END EC PRIVATE KEY-----`,
    elsewhere: { blob: `-----BEGIN RSA PRIVATE KEY-----\n${c('pemany')}\n-----END RSA PRIVATE KEY-----` },
    desc: `called with ${JWT(c('jwt'))} yesterday`,
    config_json: JSON.stringify({ host: 'visible-host', password: c('jsonpw'), nested: { clientSecret: c('jsonsecret') } }),
    token: { [`LEAK-keyname-${side}`]: c('tokenobj') },
    password: [{ [`LEAK-inner-${side}`]: 1 }],
    uri: '/visible-uri',
    plugins: { 'key-auth': { key: side === 'old' ? KNOWN_OLD : KNOWN_NEW } },
    // Longer names ending in a secret word, in every spelling; names a secret word only starts stay readable.
    db_password: c('dbpw'), adminPassword: c('adminpw'), jwt_secret: c('jwtsecret'), github_token: c('ghtoken'), apiToken: c('apitoken'), 'x-api-token': c('xapitoken'),
    webhook_secret: c('webhook'), encryption_key: c('enckey'), PROXY_PASSWORD: c('proxypw'), 'Openai-Api-Key': c('openaikey'),
    token_ttl: 3600, password_min_length: 12, secret_ref: 'visible-secret-ref',
    // Credentials in a URL's query or user part (a raw `/` in a password too), a connection string, a bare bearer token.
    query_urls: [`https://h.example/cb?access_token=${c('qaccess')}&x=visible-query`, `https://h.example/f?api_key=${c('qapikey')}`, `https://ghp_${c('urluser')}@git.example/org/repo.git`,
      `https://user:${c('slashpw')}/x@slash.example/app`, 'https://port.example:8443/@visible-handle'],
    // Issue 13's last shapes. Names run together; names that only look alike stay readable.
    dbpassword: c('dbpwrun'), adminpassword: c('adminpwrun'), githubtoken: c('ghtokenrun'), webhooksecret: c('webhookrun'), csrftoken: c('csrfrun'), sshprivatekey: c('sshkeyrun'),
    max_tokens: 4096, tokens: [c('tokenslist')], total_tokens: 'visible-tokens', passwordless: 'visible-passwordless', broken: 'visible-broken', spoken: 'visible-spoken', public_key: 'visible-public-key',
    env_run: [{ name: 'DBPASSWORD', value: c('envrun') }, { name: 'MAX_TOKENS', value: 'visible-env-max' }],
    // Digits then `/` (or `?`) after a URL's colon, with an `@` later: a password, not a port; a raw `@` then `/` in a
    // password; a user holding an `@`; tokens as a URL's user; ordinary user names and a path starting with `@` stay.
    url_shapes: [`redis://:7531/${c('digitpw')}@digits.example:6379/0`, `https://user:975319/${c('longdigitpw')}@digits2.example/app`, `https://u:12?${c('querypw')}@digits3.example/x`,
      `https://u:p@${c('atslashpw')}/x@atslash.example/app`, `https://bob@corp.example:${c('emailuserpw')}@jira.example/x`,
      `https://glpat-${c('glpat')}@gitlab.example/g/p.git`, `wss://${c('longuser')}-a1b2c3d4@ws.example/socket`, `https://ghp_${c('ghpuserpw')}:x-oauth-basic@github.example/o/r.git`,
      'https://git@github.com/visible-org/repo.git', 'https://alice@visible-user.example/x', 'https://reg.example:4873/npm/@visible-scope/pkg'],
    dsn: `host=db user=app password=${c('dsnpw')} dbname=visible-db`,
    note: `Bearer ${c('bearer')}`,
    // Secret names in name/value lists, header pairs, header names with a trailing space, plugins as a list.
    env: [{ name: 'DB_PASSWORD', value: c('envpw') }, { key: 'API_TOKEN', value: c('envtoken') }, { name: 'LOG_LEVEL', value: 'visible-level' }],
    pairs: [['Authorization', `Bearer ${c('pair')}`], ['X-Api-Key', c('pairkey')], ['X-Trace', 'visible-pair']],
    spaced: [{ name: 'Authorization ', value: c('spacedname') }], spaced_map: { 'X-Api-Key ': c('spacedkey') },
    plugin_list: { plugins: [{ name: 'key-auth', config: { key: c('pluginlist') } }, { name: 'limit-count', config: { key: 'visible_remote_addr' } }] },
  };
}

/** The key-auth key of the generic row, rotated: known values, for the fingerprint checks. */
const KNOWN_OLD = 'KnownLeakedKey-0ld';
const KNOWN_NEW = 'KnownRotatedKey-n3w';

const RESOURCE_TYPES = ['route', 'service', 'consumer', 'credential', 'consumer_group', 'global_rule', 'plugin_config'];
const RESOURCES = [...new Set(fields.filter((f) => f.kind === 'resource').map((f) => f.name))];
const seed = (): SeedRow[] => [
  ...RESOURCE_TYPES.map((type, i) => ({ age: `${i + 2} days`, operator: 'alice', operation: 'update', resource_type: type, resource_id: `${type}-1`, resource_name: type,
    before: { name: type, plugins: allPlugins(`${type}-old`) }, after: { name: type, plugins: allPlugins(`${type}-new`) } })),
  ...RESOURCES.map((name, i) => ({ age: `${i + 2} days 1 hour`, operator: 'bob', operation: 'update', resource_type: name.replace(/\(.*\)$/, ''), resource_id: `r-${i}`, resource_name: name,
    before: resourceState(name, 'old'), after: resourceState(name, 'new') })),
  { age: '2 days 2 hours', operator: 'carol', operation: 'update', resource_type: 'route', resource_id: 'generic', resource_name: 'generic', before: genericState('old'), after: genericState('new') },
];

let schema: TestSchema;
let dir: string;
let ids: string[] = [];
const servers: FakeServer[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-secrets-'));
  schema = await createTestSchema('acc_secrets');
  await createDefaultTable(schema);
  ids = await insertRows(schema, seed());
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true }), ...servers.map((server) => server.close())]);
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env, timeoutMs: 120_000 });
const ok = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  return result;
};
/** Each canary found in a text, for a readable failure. */
const leaks = (text: string) => [...new Set(text.match(new RegExp(`${CANARY}\\d+[-A-Za-z0-9_]*|KnownLeakedKey-0ld|KnownRotatedKey-n3w`, 'g')) ?? [])];

/** How show names each declared field of a row that has them: `key-auth key`, `ai-proxy instances[1].auth.header`. */
function declaredLabels(row: number): string[] {
  if (row < RESOURCE_TYPES.length) return fields.filter((f) => f.kind === 'plugin').map((f) => `${f.name} ${laidOutPath(f.path)}`);
  const resource = RESOURCES[row - RESOURCE_TYPES.length] as string;
  return fields.filter((f) => f.kind === 'resource' && f.name === resource).map((f) => `${resource.replace(/\(.*\)$/, '')} ${f.path}`);
}
const GENERIC_ROW = RESOURCE_TYPES.length + RESOURCES.length;

/** show's one line listing the secrets that changed with their values hidden, split into its names. */
function hiddenListed(text: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith('Secrets changed (values hidden): '));
  return line === undefined ? [] : line.slice('Secrets changed (values hidden): '.length).split(', ');
}


const both = (result: CliResult) => result.stdout + result.stderr;

/** Keeps each request body as received (decoded), beside the protocol's answer. */
async function recorded<P extends Protocol>(protocol: P): Promise<{ server: FakeServer; bodies: string[] }> {
  const bodies: string[] = [];
  const recorder: Protocol = {
    handle(request: FakeRequest): FakeReply {
      bodies.push(request.body.toString('utf8'));
      return protocol.handle(request);
    },
    failure: (status) => protocol.failure(status),
    discardReply: (request) => protocol.discardReply(request),
  };
  const server = await new FakeServer(recorder, {}).start();
  servers.push(server);
  return { server, bodies };
}

/**
 * Every output path, run with `extra` global flags and `env`; returns each output's text by name. `show` and
 * `history` run once per entry: `rows` picks which (every row by default), to keep the spawns few.
 */
async function everyOutput(extra: string[], env: NodeJS.ProcessEnv, rows = ids.map((_, row) => row)): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const format of ['table', 'json', 'ndjson', 'csv']) {
    out.set(`list ${format}`, both(ok(await cli([...extra, 'list', '--all', '--output', format, '--wide'], env))));
  }
  for (const id of rows.map((row) => ids[row] as string)) {
    out.set(`show ${id} text`, both(ok(await cli([...extra, 'show', id], env))));
    out.set(`show ${id} json`, both(ok(await cli([...extra, 'show', id, '--output', 'json'], env))));
  }
  // Newer commands that print states: history (for the row of every plugin, the SSL row and the generic row) and follow.
  const histories = { 0: 'route:route-1', [RESOURCE_TYPES.length + RESOURCES.indexOf('ssl')]: `ssl:r-${RESOURCES.indexOf('ssl')}`, [GENERIC_ROW]: 'route:generic' };
  for (const resource of rows.flatMap((row) => histories[row] ?? [])) {
    out.set(`history ${resource} text`, both(ok(await cli([...extra, 'history', resource], env))));
    out.set(`history ${resource} json`, both(ok(await cli([...extra, 'history', resource, '--output', 'json'], env))));
  }
  out.set('follow ndjson', await followed(extra, env));
  const file = join(dir, `export-${extra.length}.ndjson`);
  const exported = ok(await cli([...extra, 'export', '--out', file], env));
  out.set('export file', (await readFile(file, 'utf8')) + exported.stderr);

  const hec = await recorded(new FakeHec({ token: 'hec-T0ken-secrets' }));
  const toHec = ok(await cli([...extra, 'export', '--hec-url', hec.server.url], { ...env, API7_AUDIT_HEC_TOKEN: 'hec-T0ken-secrets' }));
  out.set('export hec', hec.bodies.join('\n') + both(toHec));
  const es = await recorded(new FakeElastic({ apiKey: 'es-K3y-secrets' }));
  const toEs = ok(await cli([...extra, 'export', '--elastic-url', es.server.url], { ...env, API7_AUDIT_ELASTIC_API_KEY: 'es-K3y-secrets' }));
  out.set('export elasticsearch', es.bodies.join('\n') + both(toEs));
  const dd = await recorded(new FakeDatadog({ apiKey: 'dd-K3y-secrets' }));
  const toDd = ok(await cli([...extra, 'export', '--datadog-url', dd.server.url], { ...env, DD_API_KEY: 'dd-K3y-secrets' }));
  out.set('export datadog', dd.bodies.join('\n') + both(toDd));
  for (const [name, text] of out) if (name.startsWith('export ')) expect(text.length, `${name} received nothing`).toBeGreaterThan(1000);
  return out;
}

/** `follow --output ndjson` from before the seed, stopped with Ctrl-C once every entry came out. */
async function followed(extra: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const running = startCli(['--db', databaseUrl(), '--table', schema.table(), ...extra, 'follow', '--since', '30d', '--output', 'ndjson', '--interval', '100ms'], { env, timeoutMs: 60_000 });
  const deadline = Date.now() + 30_000;
  while (running.stdout().split('\n').filter(Boolean).length < ids.length && !running.exited() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  running.child.kill('SIGINT');
  const result = await running.result;
  expect(result.stdout.split('\n').filter(Boolean), result.stderr).toHaveLength(ids.length);
  return both(result);
}

describe('no output path shows a secret', () => {
  let outputs: Map<string, string>;
  beforeAll(async () => {
    outputs = await everyOutput([], {});
  }, 600_000);

  it('list (table, json, ndjson, csv), show (text, json) and export (file, HEC, Elasticsearch, Datadog) hold no canary', () => {
    expect(outputs.size).toBe(4 + ids.length * 2 + 3 * 2 + 1 + 4);
    expect([...outputs.keys()].filter((name) => name.startsWith('history') || name.startsWith('follow'))).toHaveLength(7);
    for (const [name, text] of outputs) expect(leaks(text), name).toEqual([]);
  });

  it('the seed really holds a canary at every declared path, shown by --show-secrets, so the check above means something', async () => {
    const shown = ok(await cli(['list', '--all', '--output', 'ndjson', '--show-secrets'])).stdout;
    const declared = fields.filter((f) => f.kind === 'plugin').length * RESOURCE_TYPES.length * 2;
    expect(leaks(shown).length).toBeGreaterThanOrEqual(declared);
  });

  it('masks what is secret and nothing more: names, hosts and ordinary values stay readable', () => {
    const ndjson = outputs.get('list ndjson') as string;
    for (const visible of ['visible description', 'api.example/v1', 'cache.internal:6379', 'visible-trace', 'visible-host', '/visible-uri', 'MIIvisible', 'called with', 'X-Trace',
      'visible-host-line', 'visible-set', 'X-Visible', 'visible-state', 'db.example:5432', 'app.example/cb', '"token_ttl":3600', '"password_min_length":12',
      'visible-secret-ref', 'x=visible-query', 'git.example/org/repo.git', 'slash.example/app', 'https://port.example:8443/@visible-handle', 'user=app', 'dbname=visible-db',
      'visible-level', 'visible-pair', 'visible_remote_addr', '"max_tokens":4096', 'visible-tokens', 'visible-passwordless', 'visible-broken', 'visible-spoken',
      'visible-public-key', 'visible-env-max', 'digits.example:6379/0', 'digits2.example/app', 'atslash.example/app', 'https://bob@corp.example:', 'jira.example/x',
      'gitlab.example/g/p.git', 'ws.example/socket', 'github.example/o/r.git', 'https://git@github.com/visible-org/repo.git', 'https://alice@visible-user.example/x',
      'https://reg.example:4873/npm/@visible-scope/pkg']) {
      expect(ndjson).toContain(visible);
    }
  });

  it('a masked object hides its inner key names, in show\'s "Secrets changed" list too', () => {
    for (const [name, text] of outputs) expect(text, name).not.toContain('LEAK-');
    const generic = ids[ids.length - 1] as string;
    const text = outputs.get(`show ${generic} text`) as string;
    expect(hiddenListed(text)).toEqual(expect.arrayContaining(['$.token', '$.password', 'key-auth key']));
  });

  it('show names each changed secret by its plugin (or resource) and field, in every kind of object, values hidden', () => {
    expect(ids).toHaveLength(GENERIC_ROW + 1);
    for (let row = 0; row < GENERIC_ROW; row++) {
      const text = outputs.get(`show ${ids[row] as string} text`) as string;
      const listed = hiddenListed(text);
      expect(listed.length, text).toBeGreaterThan(0);
      // A field masked whole by its name (aws-lambda `authorization`) stands for the declared ones inside it.
      for (const label of declaredLabels(row)) expect(listed.some((name) => label === name || label.startsWith(`${name}.`)), `row ${row}: ${label} in ${listed.join(', ')}`).toBe(true);
      expect(text).not.toContain('fingerprint');
    }
    const json = JSON.parse(outputs.get(`show ${ids[GENERIC_ROW] as string} json`) as string) as { changes: unknown[] };
    expect(json.changes).toContainEqual({ path: '$.plugins["key-auth"].key', before: '******', after: '******' });
    expect(json.changes).toContainEqual({ path: '$.token', before: '******', after: '******' });
  });

  it('prune --archive holds no canary', async () => {
    const archive = join(dir, 'pruned.ndjson');
    const result = ok(await cli(['prune', '--retention-days', '1', '--yes', '--json', '--archive', archive]));
    expect(JSON.parse(result.stdout)).toMatchObject({ archived: ids.length });
    const text = await readFile(archive, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(ids.length);
    expect(leaks(text)).toEqual([]);
    expect(text).not.toContain('LEAK-');
    await insertRows(schema, seed().map((row, i) => ({ ...row, id: Number(ids[i]) })));
  });
});

/** `secret-fingerprint --stdin` with `input` on stdin, as a user would run it. */
function fingerprintOf(input: string, env: NodeJS.ProcessEnv, args: string[] = ['--stdin']): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'secret-fingerprint', ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr } as CliResult));
    child.stdin.end(input);
  });
}

describe('--secret-fingerprints', () => {
  const K1 = 'operator-fingerprint-key-one';
  const K2 = 'operator-fingerprint-key-two';
  const listed = async (env: NodeJS.ProcessEnv, extra: string[] = []) => ok(await cli(['--secret-fingerprints', ...extra, 'list', '--all', '--output', 'ndjson'], env)).stdout;
  const hex = (result: CliResult) => /^hmac-sha256:([0-9a-f]{12})\n$/.exec(ok(result).stdout)?.[1] as string;

  it('stability: the same value under the same key has the same fingerprint, the one secret-fingerprint --stdin prints', async () => {
    const [first, second] = [await listed({ API7_AUDIT_FINGERPRINT_KEY: K1 }), await listed({ API7_AUDIT_FINGERPRINT_KEY: K1 })];
    expect(first).toBe(second);
    const old = hex(await fingerprintOf(`${KNOWN_OLD}\n`, { API7_AUDIT_FINGERPRINT_KEY: K1 }));
    const rotated = hex(await fingerprintOf(KNOWN_NEW, { API7_AUDIT_FINGERPRINT_KEY: K1 }));
    expect(old).toMatch(/^[0-9a-f]{12}$/);
    expect(old).not.toBe(rotated);
    expect(first).toContain(`"key":"******(hmac-sha256:${old})"`);
    expect(first).toContain(`"key":"******(hmac-sha256:${rotated})"`);
    // A key file gives what the variable gives.
    const keyFile = join(dir, 'fingerprint.key');
    await writeFile(keyFile, `${K1}\n`);
    await chmod(keyFile, 0o600);
    expect(await listed({}, ['--fingerprint-key-file', keyFile])).toBe(first);
    expect(hex(await fingerprintOf(KNOWN_OLD, {}, ['--stdin', '--fingerprint-key-file', keyFile]))).toBe(old);
    // Readable by others, it still works, with a warning: the key lets anyone test guesses against fingerprints.
    await chmod(keyFile, 0o644);
    const open = await cli(['--secret-fingerprints', '--fingerprint-key-file', keyFile, 'list', '--all', '--output', 'ndjson']);
    expect(ok(open).stdout).toBe(first);
    expect(open.stderr).toContain(`warning: --fingerprint-key-file '${keyFile}' is readable by other users (mode 0644): chmod 600 it`);
    expect(open.stderr).not.toContain(K1);
  }, 120_000);

  it('the config file can ask for fingerprints, with a key file beside it', async () => {
    const keyFile = join(dir, 'config-fingerprint.key');
    await writeFile(keyFile, `${K1}\n`, { mode: 0o600 });
    const config = join(dir, 'fingerprints.yaml');
    await writeFile(config, 'secrets:\n  fingerprints: true\n  fingerprint_key_file: config-fingerprint.key\n', { mode: 0o600 });
    const viaConfig = ok(await cli(['--config', config, 'list', '--all', '--output', 'ndjson'])).stdout;
    expect(viaConfig).toBe(await listed({ API7_AUDIT_FINGERPRINT_KEY: K1 }));
    expect(viaConfig).not.toContain(K1);
  }, 120_000);

  it('separation: another key gives other fingerprints, for the same values', async () => {
    const one = await listed({ API7_AUDIT_FINGERPRINT_KEY: K1 });
    const two = await listed({ API7_AUDIT_FINGERPRINT_KEY: K2 });
    const prints = (text: string) => new Set(text.match(/hmac-sha256:[0-9a-f]{12}/g));
    const [a, b] = [prints(one), prints(two)];
    expect(a.size).toBeGreaterThan(100);
    expect([...a].filter((print) => b.has(print))).toEqual([]);
    const old = hex(await fingerprintOf(KNOWN_OLD, { API7_AUDIT_FINGERPRINT_KEY: K2 }));
    expect(two).toContain(`******(hmac-sha256:${old})`);
    expect(one).not.toContain(old);
  }, 120_000);

  it('no output path holds a raw secret or the key; show tells a rotated key by its fingerprints', async () => {
    // show and history of the row of every plugin, each resource's row and the generic row (the other kinds of
    // object hold the same plugins, shown without fingerprints above).
    const rows = [0, ...RESOURCES.map((_, i) => RESOURCE_TYPES.length + i), GENERIC_ROW];
    const outputs = await everyOutput(['--secret-fingerprints'], { API7_AUDIT_FINGERPRINT_KEY: K1 }, rows);
    expect(outputs.size).toBe(4 + rows.length * 2 + 3 * 2 + 1 + 4);
    for (const [name, text] of outputs) {
      expect(leaks(text), name).toEqual([]);
      expect(text, name).not.toContain(K1);
      expect(text, name).not.toContain('LEAK-');
    }
    const old = hex(await fingerprintOf(KNOWN_OLD, { API7_AUDIT_FINGERPRINT_KEY: K1 }));
    const rotated = hex(await fingerprintOf(KNOWN_NEW, { API7_AUDIT_FINGERPRINT_KEY: K1 }));
    const generic = outputs.get(`show ${ids[GENERIC_ROW] as string} text`) as string;
    expect(generic).toContain(`\n-      "key": "******(hmac-sha256:${old})"\n+      "key": "******(hmac-sha256:${rotated})"\n`);
    expect(generic.split('\n')).toContain(`  key-auth key changed (fingerprint ${old} -> ${rotated})`);
    expect(generic).not.toContain('values hidden');
    const json = JSON.parse(outputs.get(`show ${ids[GENERIC_ROW] as string} json`) as string) as { changes: unknown[] };
    expect(json.changes).toContainEqual({ path: '$.plugins["key-auth"].key', before: `******(hmac-sha256:${old})`, after: `******(hmac-sha256:${rotated})` });
    // Every declared field of every row is told by name with both fingerprints, which differ (each side its canary).
    for (const row of rows.filter((r) => r !== GENERIC_ROW)) {
      const lines = (outputs.get(`show ${ids[row] as string} text`) as string).split('\n');
      expect(lines, `row ${row}`).toContain('Secrets changed:');
      const told = new Map(lines.map((line) => /^ {2}(.+) changed \(fingerprint ([0-9a-f]{12}) -> ([0-9a-f]{12})\)$/.exec(line)).filter((m) => m !== null).map((m) => [m[1] as string, [m[2], m[3]]]));
      for (const declared of declaredLabels(row)) {
        const label = [...told.keys()].find((name) => declared === name || declared.startsWith(`${name}.`));
        expect(label, `row ${row}: ${declared} in ${lines.join('\n')}`).toBeDefined();
        const [before, after] = told.get(label as string) as string[];
        expect(before).not.toBe(after);
      }
    }
  }, 600_000);

  it('prune --archive with fingerprints holds no raw secret and not the key', async () => {
    const archive = join(dir, 'pruned-fingerprints.ndjson');
    const result = ok(await cli(['--secret-fingerprints', 'prune', '--retention-days', '1', '--yes', '--json', '--archive', archive], { API7_AUDIT_FINGERPRINT_KEY: K1 }));
    expect(JSON.parse(result.stdout)).toMatchObject({ archived: ids.length });
    const text = await readFile(archive, 'utf8');
    expect(leaks(text)).toEqual([]);
    expect(text).not.toContain(K1);
    expect(text).toContain(`******(hmac-sha256:${hex(await fingerprintOf(KNOWN_OLD, { API7_AUDIT_FINGERPRINT_KEY: K1 }))})`);
    await insertRows(schema, seed().map((row, i) => ({ ...row, id: Number(ids[i]) })));
  }, 120_000);

  it('without a key, asking for fingerprints is bad input, one line', async () => {
    const result = await cli(['--secret-fingerprints', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: secret fingerprints need a key: set API7_AUDIT_FINGERPRINT_KEY or give --fingerprint-key-file FILE\n');
    const plain = ok(await cli(['list', '--all', '--output', 'ndjson'], { API7_AUDIT_FINGERPRINT_KEY: K1 })).stdout;
    expect(plain).not.toContain('hmac-sha256');
    expect(plain).toContain('"key":"******"');
  });

  it('secret-fingerprint reads the value from stdin only, never from argv, and never prints it or the key', async () => {
    const onArgv = await fingerprintOf('', { API7_AUDIT_FINGERPRINT_KEY: K1 }, ['--stdin', KNOWN_OLD]);
    expect(onArgv.code).toBe(2);
    expect(onArgv.stdout + onArgv.stderr).not.toContain(KNOWN_OLD);
    const noFlag = await fingerprintOf(KNOWN_OLD, { API7_AUDIT_FINGERPRINT_KEY: K1 }, []);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toMatch(/^error: required option '--stdin' not specified\n$/);
    const noKey = await fingerprintOf(KNOWN_OLD, {});
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/^error: secret fingerprints need a key/);
    const empty = await fingerprintOf('', { API7_AUDIT_FINGERPRINT_KEY: K1 });
    expect(empty.code).toBe(2);
    const good = await fingerprintOf(KNOWN_OLD, { API7_AUDIT_FINGERPRINT_KEY: K1 });
    expect(good.stdout + good.stderr).not.toContain(KNOWN_OLD);
    expect(good.stdout + good.stderr).not.toContain(K1);
  });
});

describe('site-specific secret names from the config file', () => {
  it('secrets.keys masks each name in any spelling, beside the built-in ones, on list and show', async () => {
    const state = (side: string) => ({
      partnerSignature: canary(`${side}-camel`), PARTNER_SIGNATURE: canary(`${side}-upper`), 'partner-signature': canary(`${side}-kebab`),
      xInternalToken: canary(`${side}-token`), meta: { 'X-Internal-Token': canary(`${side}-header`) }, password: canary(`${side}-builtin`), note: `visible-note-${side}`,
      vault_ref: canary(`${side}-snake-of-camel`),
    });
    const [id] = await insertRows(schema, [{ age: '1 hour', operator: 'dave', operation: 'update', resource_type: 'route', resource_id: 'site-specific', before: state('old'), after: state('new') }]);
    try {
      const config = join(dir, 'site-keys.yaml');
      await writeFile(config, 'secrets:\n  keys: [partner_signature, X-Internal-Token, vaultRef]\n', { mode: 0o600 });
      const plain = ok(await cli(['list', '--resource', 'route:site-specific', '--output', 'ndjson'])).stdout;
      expect(leaks(plain).length, 'without the config the names are not secret').toBeGreaterThan(0);
      const listed = ok(await cli(['--config', config, 'list', '--resource', 'route:site-specific', '--output', 'ndjson'])).stdout;
      const shown = both(ok(await cli(['--config', config, 'show', id as string])));
      for (const text of [listed, shown]) {
        expect(leaks(text)).toEqual([]);
        expect(text).toContain('visible-note');
      }
      expect(hiddenListed(shown)).toEqual(expect.arrayContaining(['$.partnerSignature', '$.PARTNER_SIGNATURE', '$["partner-signature"]', '$.xInternalToken', '$.meta["X-Internal-Token"]', '$.password', '$.vault_ref']));
    } finally {
      await schema.query(`delete from ${schema.table()} where resource_id = 'site-specific'`);
    }
  });
});
