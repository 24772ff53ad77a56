import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, isEmbedded, type SeedRow, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import { ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { spawnInPty } from '../support/pty.js';

// An attack on "no secret shown" along every path but export's JSON text (test/acceptance/secrets.test.ts and
// masking-fast-path.test.ts hold that one): list's --fields and --jq, history's --at and --between, follow's table
// and CSV, stats, init, seal and verify, export's --rejects and --dry-run, doctor, and the messages of every error
// path (database URLs, PGPASSWORD, a config file, ~/.pgpass, --debug; sinks that echo the credential back, sink URLs
// holding one). Each secret is a canary of its own; no output may hold one. Spawns the built binary.

const CANARY = 'ATKS';
let serial = 0;
const canary = (where: string) => `${CANARY}${(serial += 1)}x${where.replace(/[^A-Za-z0-9]/g, '')}`;
const leaks = (text: string) => [...new Set(text.match(new RegExp(`${CANARY}\\d+x[A-Za-z0-9]*`, 'g')) ?? [])];
const both = (result: CliResult) => result.stdout + result.stderr;
/** A JWT whose signature is the canary, so that a leak of the token shows as the canary. */
const JWT = (signature: string) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'visible' })).toString('base64url')}.c2ln${signature}`;
const PEM = (body: string) => `-----BEGIN PRIVATE KEY-----\nMII${body}\n-----END PRIVATE KEY-----`;

/** What must stay readable (README, Secrets): ordinary text about secrets, limit-count's key, names, hosts. */
const DECOYS = ['password reset page', 'the token field is required', 'remote_addr', 'visible-header', 'visible-item', 'x.example'];

function seed(): SeedRow[] {
  const row = (resource_type: string, resource_id: string, before: unknown, after: unknown): SeedRow => ({
    age: `${(serial % 50) + 5} minutes`, operator: 'alice', operation: 'update', resource_type, resource_id, resource_name: resource_id, source_ip: '10.0.0.1', source: 'api', before, after,
  });
  const headers = (side: string) => ({ set: { Authorization: `Bearer ${canary(`${side}auth`)}`, Cookie: `sid=${canary(`${side}cookie`)}`, 'X-API-Key': canary(`${side}xapikey`), 'X-Visible': 'visible-header' } });
  const route = (side: string) => ({
    name: 'r1', desc: 'password reset page',
    plugins: { 'key-auth': { key: canary(`${side}keyauth`) }, 'proxy-rewrite': { headers: headers(side) }, 'limit-count': { key: 'remote_addr', redis_password: canary(`${side}redis`) } },
  });
  return [
    // A secret changed between before and after, header secrets in proxy-rewrite, a decoy of limit-count.
    row('route', 'r1', route('old'), route('new')),
    // Plugins as a list, on a service.
    row('service', 's1', { plugins: [{ name: 'basic-auth', config: { password: canary('oldlist') } }] }, { plugins: [{ name: 'openid-connect', conf: { client_secret: canary('newlist') } }] }),
    // An SSL resource and an SSL object nested in another (by its cert).
    row('ssl', 'ssl1', { key: canary('sslkeyold'), cert: '-----BEGIN CERTIFICATE-----\nMIIvisible\n-----END CERTIFICATE-----' }, { key: canary('sslkeynew'), keys: [canary('sslkeys')], certs: ['c'] }),
    row('upstream', 'u1', { tls: { client_cert: 'c', client_key: canary('upkeyold') } }, { tls: { client_cert: 'c', client_key: canary('upkeynew') }, nested: { cert: 'c', key: canary('nestedssl') } }),
    // A consumer's credentials; JWTs, PEM keys and URL passwords in arrays and free text.
    row('consumer', 'c1', { plugins: { 'jwt-auth': { secret: canary('jwtold'), private_key: PEM(canary('jwtpem')) } } },
      { plugins: { 'jwt-auth': { secret: canary('jwtnew') } }, desc: `see https://u:${canary('urlpw')}@x.example/`, list: [JWT(canary('jwtarr')), PEM(canary('pemarr')), 'visible-item'], note: 'the token field is required' }),
    // A secret key renamed: neither value shows.
    row('route', 'r2', { password: canary('renameold') }, { passwd: canary('renamenew') }),
    // global_rule, plugin_config, plugin_metadata, credential.
    row('global_rule', 'g1', null, { plugins: { 'kafka-logger': { brokers: [{ host: 'k', port: 9092, sasl_config: { user: 'u', password: canary('kafka') } }] } } }),
    row('plugin_config', 'pc1', null, { plugins: { 'hmac-auth': { secret_key: canary('hmac') } } }),
    row('plugin_metadata', 'sls-logger', null, { access_key_secret: canary('slsmeta') }),
    row('credential', 'cr1', { plugins: { 'key-auth': { key: canary('credold') } } }, null),
  ];
}

let schema: TestSchema;
let dir: string;
let ids: string[] = [];
let seeded: SeedRow[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-attack-secrets-'));
  schema = await createTestSchema('atk_secrets');
  await createDefaultTable(schema);
  seeded = seed();
  ids = await insertRows(schema, seeded);
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args], { env, timeoutMs: 60_000 });
const ok = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  return result;
};
/** Every canary of the seed is in it, shown by --show-secrets: a clean output below means the secret was there to leak. */
const allCanaries = () => leaks(JSON.stringify(seeded));

describe('state masking on the paths other than export', () => {
  it('the seed holds every canary, and --show-secrets shows them (so the checks below can fail)', async () => {
    const shown = ok(await cli(['list', '--all', '--output', 'ndjson', '--show-secrets'])).stdout;
    expect(leaks(shown).sort()).toEqual(allCanaries().sort());
  });

  it('list: --fields (CSV, JSON, table) and --jq programs that reach for the states get masked values only', async () => {
    const outputs = [
      await cli(['list', '--all', '--output', 'csv', '--fields', 'id,before,after']),
      await cli(['list', '--all', '--json', '--fields', 'after,before']),
      await cli(['list', '--all', '--fields', 'id,resource,before,after', '--wide']),
      await cli(['list', '--all', '--jq', '.[].after.plugins']),
      await cli(['list', '--all', '--jq', '[.[] | .. | strings]']),
      await cli(['list', '--all', '--jq', '.[] | .before | tostring']),
      await cli(['list', '--all', '--jq', '[.[] | paths(type == "string") as $p | $p | join(".")]']),
      await cli(['list', '--all', '--jq', '.[] | .after | .. | select(type == "string") | @base64']),
      await cli(['list', '--all', '--jq', '.[] | .after.plugins["key-auth"].key | error']),
    ];
    for (const result of outputs) expect(leaks(both(result)), both(result)).toEqual([]);
    // A jq program sees none of the process's environment either (PGPASSWORD, the sinks' tokens).
    const secret = 'PgPassword-attack-9x7';
    const env = ok(await cli(['list', '--limit', '1', '--jq', '[env, $ENV]'], { PGPASSWORD: secret, API7_AUDIT_HEC_TOKEN: secret }));
    expect(both(env)).not.toContain(secret);
  });

  it('show (diff, JSON) and history (timeline, JSON, NDJSON, --at, --between) hold no canary; decoys stay', async () => {
    const texts: string[] = [];
    for (const id of ids) {
      texts.push(both(ok(await cli(['show', id]))), both(ok(await cli(['show', id, '--output', 'json']))));
    }
    for (const resource of ['route:r1', 'ssl:ssl1', 'upstream:u1', 'consumer:c1', 'route:r2', 'credential:cr1']) {
      for (const extra of [[], ['--output', 'json'], ['--output', 'ndjson'], ['--at', '0s'], ['--at', '0s', '--output', 'json'], ['--between', '2h', '0s'], ['--diff', '2h..0s', '--output', 'json']]) {
        texts.push(both(ok(await cli(['history', resource, ...extra]))));
      }
    }
    const all = texts.join('\n');
    expect(leaks(all)).toEqual([]);
    for (const decoy of DECOYS) expect(all).toContain(decoy);
    // The rotated and renamed secrets are named, never shown.
    const rotated = both(ok(await cli(['show', ids[0] as string])));
    expect(rotated).toMatch(/Secrets changed \(values hidden\): .*key-auth key/);
    const renamed = both(ok(await cli(['show', ids[5] as string])));
    expect(renamed).toContain('-  "password": "******"');
    expect(renamed).toContain('+  "passwd": "******"');
  }, 240_000);

  // The embedded server has one session, which a follow stopped by --for leaves inside its READ ONLY transaction:
  // every write after it (this test's, the next ones') would be refused. The real server runs it.
  it.skipIf(isEmbedded())('follow (table, NDJSON, CSV) prints the seeded entries and one committed while it runs, masked', async () => {
    // --since 1d: the seed, and the new entry whether follow is up before it is committed or (on a loaded machine) after.
    const running = ['table', 'ndjson', 'csv'].map((format) => startCli(['--db', databaseUrl(), '--table', schema.table(), 'follow', '--since', '1d', '--output', format, '--interval', '100ms', '--for', '6s'], { timeoutMs: 30_000 }));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const live = canary('followlive');
    const [id] = await insertRows(schema, [{ operator: 'erin', operation: 'update', resource_type: 'route', resource_id: 'live', before: null, after: { plugins: { 'key-auth': { key: live } }, note: 'live-visible' } }]);
    try {
      for (const [index, run] of running.entries()) {
        const result = await run.result;
        // The table has no state column: the entry shows by its id; NDJSON and CSV carry its (masked) after.
        expect(result.stdout, result.stderr).toContain(index === 0 ? `${id as string} ` : 'live-visible');
        expect(leaks(both(result))).toEqual([]);
        if (index > 0) for (const decoy of DECOYS) expect(result.stdout).toContain(decoy);
      }
    } finally {
      await schema.query(`delete from ${schema.table()} where resource_id = 'live'`);
    }
  }, 60_000);

  it('stats and init show counts and names, never a state', async () => {
    const texts = [
      both(ok(await cli(['stats', '--since', '1d']))),
      both(ok(await cli(['stats', '--since', '1d', '--by', 'operator,resource', '--output', 'json']))),
      both(ok(await cli(['stats', '--since', '1d', '--by', 'ip', '--output', 'csv']))),
      both(ok(await cli(['--config', join(dir, 'init.yaml'), 'init', '--json']))),
      both(ok(await cli(['--config', join(dir, 'init.yaml'), 'init']))),
    ];
    expect(leaks(texts.join('\n'))).toEqual([]);
    // init's sample is the newest entries, masked.
    const sample = (JSON.parse(texts[3] as string) as { sample: { after: unknown }[] }).sample;
    expect(sample.length).toBeGreaterThan(0);
  });

  it("init shows the config file it proposes with database.url's password masked, and writes it whole", async () => {
    const withPassword = new URL(databaseUrl());
    withPassword.password = 'InitPw-attack-1x';
    const config = join(dir, 'init-with-url.yaml');
    await writeFile(config, `database:\n  url: ${withPassword.toString()}\n`, { mode: 0o600 });
    const result = ok(await spawnCli(['--config', config, '--table', schema.table(), 'init', '--yes']));
    expect(result.stdout).toContain(':***@');
    expect(both(result)).not.toContain('InitPw-attack-1x');
    expect(await readFile(config, 'utf8')).toContain(withPassword.toString());
    const json = ok(await spawnCli(['--config', config, '--table', schema.table(), 'init', '--json']));
    expect(both(json)).not.toContain('InitPw-attack-1x');
  });

  it('seal and verify: the store and the reports hold no canary, also when a sealed secret is tampered with', async () => {
    const store = join(dir, 'seals');
    await mkdir(store, { mode: 0o700 });
    const key = join(dir, 'seal.key');
    ok(await cli(['seal', '--new-key', '--key', key]));
    const sealed = ok(await cli(['seal', '--key', key, '--store', store, '--settle', '0s']));
    const tampered = canary('tampered');
    await schema.query(`update ${schema.table()} set after = jsonb_set(before, '{plugins,key-auth,key}', $1) where resource_id = 'r1'`, [JSON.stringify(tampered)]);
    try {
      const verified = await cli(['verify', '--store', store, '--public-key', `${key}.pub`]);
      const json = await cli(['verify', '--store', store, '--public-key', `${key}.pub`, '--json']);
      expect(verified.code).toBe(4); // not intact
      expect(both(verified)).toMatch(/modified: id \d+ .*after changed/);
      const files = await Promise.all((await readdir(store)).map((name) => readFile(join(store, name), 'utf8')));
      const all = [both(sealed), both(verified), both(json), ...files].join('\n');
      expect(leaks(all)).toEqual([]);
    } finally {
      await schema.query(`update ${schema.table()} set after = $1 where resource_id = 'r1'`, [JSON.stringify(seeded[0]?.after)]);
    }
  });

  it('export --rejects keeps a too-large entry whole in the file, masked; the reduced entry sent and the warning hold no canary', async () => {
    const big = canary('bigentry');
    const [id] = await insertRows(schema, [{ age: '1 minute', operator: 'frank', operation: 'update', resource_type: 'route', resource_id: 'big',
      before: { padding: 'p'.repeat(6_000), plugins: { 'key-auth': { key: big } } }, after: { padding: 'q'.repeat(6_000), password: canary('bigafter'), note: 'big-visible' } }]);
    const { server, hec } = await FakeHec.start({ token: 'hec-attack-T0ken', maxBodyBytes: 4_000 });
    try {
      const rejects = join(dir, 'rejects.ndjson');
      const result = ok(await cli(['export', '--hec-url', server.url, '--rejects', rejects, '--resource', 'route:big'], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }));
      expect(result.stderr).toContain(`entry id ${id as string} is too large`);
      const kept = await readFile(rejects, 'utf8');
      expect(kept).toContain('big-visible');
      expect(kept).toMatch(/"key": ?"\*{6}"/);
      expect(leaks(kept + both(result) + JSON.stringify(hec.events))).toEqual([]);
      // The dry run's first and last entries are masked too.
      const dry = ok(await cli(['export', '--hec-url', server.url, '--dry-run', '--json'], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }));
      expect(leaks(both(dry))).toEqual([]);
    } finally {
      await server.close();
      await schema.query(`delete from ${schema.table()} where resource_id = 'big'`);
    }
  });
});

describe('a text state that is not JSON (a truncated one) on every path, the export\'s dry run too', () => {
  let text: TestSchema;
  beforeAll(async () => {
    text = await createTestSchema('atk_secrets_text');
    await text.query(`create table ${text.table()} (id bigserial primary key, created_at timestamptz not null default now(), operator text, operation text,
      resource_type text, resource_id text, resource_name text, source_ip inet, source text, before text, after text)`);
    await text.query(`create index on ${text.table()} (created_at, id)`);
    await text.query(`insert into ${text.table()} (created_at, operator, operation, resource_type, resource_id, before, after) values (now() - interval '1 hour', 'alice', 'update', 'route', 't1', 'not json', $1)`,
      [`{"password": "${canary('truncpw')}", "desc": "visible-trunc", "plugins": {"key-auth": {"key": "${canary('trunckey')}"}`]);
  });
  afterAll(() => text.drop());

  it('list, show, history, follow, export and its --dry-run --json, and init --json mask the secrets in its raw text', async () => {
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli(['--db', databaseUrl(), '--table', text.table(), ...args], { env, timeoutMs: 60_000 });
    const [id] = (await text.query<{ id: string }>(`select id::text from ${text.table()}`)).rows.map((row) => row.id);
    const file = join(dir, 'text-state.ndjson');
    const outputs = [
      both(ok(await run(['list', '--all', '--output', 'ndjson']))),
      both(ok(await run(['show', id as string, '--output', 'json']))),
      both(ok(await run(['history', 'route:t1', '--output', 'json']))),
      // Not on the embedded server: see the follow test above.
      ...(isEmbedded() ? [] : [both(ok(await run(['follow', '--since', '1d', '--for', '1s', '--output', 'ndjson'])))]),
      (ok(await run(['export', '--out', file])), await readFile(file, 'utf8')),
      both(ok(await run(['export', '--hec-url', 'http://127.0.0.1:9', '--dry-run', '--json'], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }))),
      both(ok(await run(['--config', join(dir, 'init-text-state.yaml'), 'init', '--json']))),
    ];
    for (const output of outputs) {
      expect(leaks(output), output).toEqual([]);
      expect(output).toContain('visible-trunc');
    }
  });
});

describe('sink credentials in messages', () => {
  /** A destination that refuses with `status` and echoes the credential back in the body, written by `echo`. */
  async function echoing(status: number, echo: (credential: string) => string): Promise<{ server: Server; url: string }> {
    const server = createServer((req, res) => {
      const credential = String(req.headers.authorization ?? req.headers['dd-api-key'] ?? '');
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(echo(credential));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  // An API key is base64: `/`, `+` and `=` are what JSON (`\/`) and %-encoding rewrite.
  const TOKEN = 'Ab1/Cd2+Ef3=Gh4-attack-credential';
  const ECHOES: Record<string, (credential: string) => string> = {
    'as sent': (credential) => JSON.stringify({ error: `bad credential ${credential}` }),
    'JSON-escaped with \\/': (credential) => JSON.stringify({ error: `bad credential ${credential}` }).replaceAll('/', '\\/'),
    '%-encoded': (credential) => `{"error":"bad credential in /services/collector?auth=${encodeURIComponent(credential)}"}`,
  };
  const SINKS: [string, string[], NodeJS.ProcessEnv][] = [
    ['Splunk HEC', ['--hec-url'], { API7_AUDIT_HEC_TOKEN: TOKEN }],
    ['Elasticsearch', ['--elastic-url'], { API7_AUDIT_ELASTIC_API_KEY: TOKEN }],
    ['Datadog', ['--datadog-url'], { DD_API_KEY: TOKEN }],
  ];

  for (const [shape, echo] of Object.entries(ECHOES)) {
    for (const status of [401, 403, 503]) {
      it(`a ${status} whose body echoes the credential ${shape}: every sink's message hides it`, async () => {
        const { server, url } = await echoing(status, echo);
        try {
          for (const [name, flag, env] of SINKS) {
            const result = await cli(['export', ...flag, url, '--max-retry-time', '0s'], env);
            expect(result.code, `${name}: ${both(result)}`).toBe(1);
            expect(result.stderr, name).toContain('******');
            for (const form of [TOKEN, encodeURIComponent(TOKEN), TOKEN.replaceAll('/', '\\/'), 'Cd2+Ef3', 'Cd2%2BEf3']) expect(both(result), `${name}: ${form}`).not.toContain(form);
          }
        } finally {
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      });
    }
  }

  it('a sink URL that is refused (bad scheme, bad port, basic auth without a user) is named without its credentials', async () => {
    const cases: [string[], NodeJS.ProcessEnv][] = [
      [['--hec-url', 'ftp://h.example/?token=BadUrlToken-attack6'], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }],
      [['--hec-url', 'http://h.example:99999/?token=BadUrlToken-attack6'], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }],
      [['--datadog-url', 'ftp://h.example/api/v2/logs?dd-api-key=BadUrlToken-attack6'], { DD_API_KEY: 'dd-attack-K3y1' }],
      [['--elastic-url', 'http://h.example:99999/?api_key=BadUrlToken-attack6'], {}],
      [['--elastic-url', 'http://:BadUrlToken-attack6@h.example'], {}],
      [['--elastic-url', 'http://bob:BadUrlToken-attack6%ZZ@h.example'], {}],
    ];
    for (const [flags, env] of cases) {
      const result = await cli(['export', ...flags], env);
      expect(result.code, both(result)).toBe(2);
      expect(result.stderr).toMatch(/^error: invalid --\w+-url '/);
      expect(both(result)).not.toContain('BadUrlToken');
    }
  });

  it('on a terminal, the progress line\'s retry note quotes the reply without the credential', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      const credential = String(req.headers.authorization ?? '');
      req.resume();
      req.on('end', () => {
        requests += 1;
        // The first answer is a 503 echoing the credential JSON-escaped; the retry is accepted.
        if (requests === 1) {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ text: `busy, try again with ${credential}`, code: 9 }).replaceAll('/', '\\/'));
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"text":"Success","code":0}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await spawnInPty(['--db', databaseUrl(), '--table', schema.table(), 'export', '--hec-url', url, '--max-retry-time', '30s'], { env: { API7_AUDIT_HEC_TOKEN: TOKEN }, timeoutMs: 60_000 });
      expect(result.code, result.output).toBe(0);
      expect(requests).toBeGreaterThan(1);
      expect(result.output).toMatch(/retrying batch \d+ in \d+ ms: Splunk HEC answered HTTP 503.*Splunk \*{6}/);
      for (const form of [TOKEN, encodeURIComponent(TOKEN), TOKEN.replaceAll('/', '\\/'), 'Cd2+Ef3']) expect(result.output).not.toContain(form);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('Elasticsearch basic auth: neither the password nor its base64 header shows when the server echoes them', async () => {
    const password = 'Es-attack-pw/9x7+Q';
    const { server, url } = await echoing(401, (credential) => JSON.stringify({ error: `got ${credential}`, decoded: Buffer.from(credential.replace(/^Basic /, ''), 'base64').toString() }));
    try {
      const withUser = url.replace('http://', `http://elastic:${encodeURIComponent(password)}@`);
      const result = await cli(['export', '--elastic-url', withUser, '--max-retry-time', '0s']);
      expect(result.code).toBe(1);
      const basic = Buffer.from(`elastic:${password}`).toString('base64');
      for (const form of [password, encodeURIComponent(password), basic]) expect(both(result)).not.toContain(form);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a sink URL holding a credential (user:password@, ?token=, ?dd-api-key=) is named without it: dry run (text, --json) and summary', async () => {
    const { server, hec } = await FakeHec.start({ token: 'hec-attack-T0ken' });
    try {
      const port = new URL(server.url).port;
      const cases: [string[], NodeJS.ProcessEnv, string[]][] = [
        [['--hec-url', `http://bob:HecUrlPw-attack1@127.0.0.1:${port}`], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }, ['HecUrlPw-attack1']],
        [['--hec-url', `http://127.0.0.1:${port}/?token=HecQueryToken-attack2`], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }, ['HecQueryToken-attack2']],
        [['--datadog-url', `http://bob:DdUrlPw-attack3@127.0.0.1:${port}/api/v2/logs`], { DD_API_KEY: 'dd-attack-K3y1' }, ['DdUrlPw-attack3']],
        [['--datadog-url', `http://127.0.0.1:${port}/api/v2/logs?dd-api-key=DdQueryKey-attack4&ddsource=x`], { DD_API_KEY: 'dd-attack-K3y1' }, ['DdQueryKey-attack4']],
        [['--elastic-url', `http://bob:EsUrlPw-attack5@127.0.0.1:${port}`], {}, ['EsUrlPw-attack5']],
      ];
      for (const [flags, env, secrets] of cases) {
        for (const extra of [['--dry-run'], ['--dry-run', '--json']]) {
          const result = ok(await cli(['export', ...flags, ...extra], env));
          expect(both(result)).toContain(`127.0.0.1:${port}`);
          for (const secret of secrets) expect(both(result), flags.join(' ')).not.toContain(secret);
        }
      }
      // A real run to HEC: its summary and checkpoint name no URL credential.
      const checkpoint = join(dir, 'hec-checkpoint.json');
      const sent = ok(await cli(['export', '--hec-url', `http://bob:HecUrlPw-attack1@127.0.0.1:${port}/?token=HecQueryToken-attack2`, '--checkpoint', checkpoint], { API7_AUDIT_HEC_TOKEN: 'hec-attack-T0ken' }));
      expect(hec.ids.unique).toBeGreaterThan(0);
      const text = both(sent) + (await readFile(checkpoint, 'utf8'));
      for (const secret of ['HecUrlPw-attack1', 'HecQueryToken-attack2', 'hec-attack-T0ken']) expect(text).not.toContain(secret);
    } finally {
      await server.close();
    }
  });
});

describe('database passwords in messages', () => {
  const PASSWORD = 'DbPw-attack-9x7Q';
  const ERRORS = [
    ['a refused port', `postgres://postgres:${PASSWORD}@127.0.0.1:1/test`],
    ['an unknown database', `postgres://postgres:${PASSWORD}@127.0.0.1:5432/no_such_db_attack`],
    ['an unknown host', `postgres://postgres:${PASSWORD}@no-such-host.invalid:5432/test`],
    ['a URL that does not parse', `postgres://postgres:${PASSWORD}@127.0.0.1:99999/test`],
    ['a / in the password', `postgres://postgres:a/${PASSWORD}@127.0.0.1:5432/test`],
    ['a bad sslmode', `postgres://postgres:${PASSWORD}@127.0.0.1:5432/test?sslmode=bogus`],
    ['password= in the query', `postgres://postgres@127.0.0.1:1/test?password=${PASSWORD}`],
    ["libpq's sslpassword= in the query", `postgres://postgres@127.0.0.1:99999/test?sslpassword=${PASSWORD}`],
    ['a keyword string', `host=127.0.0.1 password=${PASSWORD} dbname=test`],
    ['a DSN missing its scheme', `postgres:${PASSWORD}@127.0.0.1:5432/test`],
    ['one slash after the scheme', `postgres:/postgres:${PASSWORD}@127.0.0.1:5432/test`],
    ["a user holding an @ (Azure's user@server)", `postgres://postgres@server:${PASSWORD}@127.0.0.1:5432/test`],
  ] as const;

  for (const [what, url] of ERRORS) {
    it(`${what}: one line without the password, in --db, the environment and a config file, with and without --debug`, async () => {
      const config = join(dir, `db-${what.replace(/\W+/g, '-')}.yaml`);
      await writeFile(config, `database:\n  url: "${url}"\n  connect_timeout: 3\n`, { mode: 0o600 });
      for (const debug of [[], ['--debug']]) {
        const runs = [
          await spawnCli([...debug, '--db', url, '--connect-timeout', '3s', 'list']),
          await spawnCli([...debug, '--connect-timeout', '3s', 'list'], { env: { API7_AUDIT_DATABASE_URL: url } }),
          await spawnCli([...debug, '--config', config, 'list']),
          await spawnCli([...debug, '--db', url, '--connect-timeout', '3s', 'doctor']),
        ];
        for (const result of runs) {
          expect(result.code, both(result)).not.toBe(0);
          expect(result.stderr).toMatch(/error: /);
          expect(both(result)).not.toContain(PASSWORD);
        }
      }
    });
  }

  it("a mistyped flag carrying a credential: commander's own message drops its value (exit 2)", async () => {
    const runs = [
      await spawnCli([`--db-url=postgres://postgres:${PASSWORD}@127.0.0.1:5432/test`, 'list']),
      await spawnCli(['list', `--dburl=postgres://postgres:${PASSWORD}@127.0.0.1:5432/test`]),
      await spawnCli(['export', `--hec-tokn=${PASSWORD}`]),
      await spawnCli([`postgres://postgres:${PASSWORD}@127.0.0.1:5432/test`, 'list']),
    ];
    for (const result of runs) {
      expect(result.code, both(result)).toBe(2);
      expect(result.stderr).toMatch(/^error: unknown (option|command) '/);
      expect(both(result)).not.toContain(PASSWORD);
    }
  });

  it('PGPASSWORD and ~/.pgpass: no error path prints them, with --debug either', async () => {
    const home = join(dir, 'home');
    await mkdir(home, { recursive: true });
    const pgpass = join(home, '.pgpass');
    await writeFile(pgpass, `*:*:*:*:Pgpass-attack-7y6\n`);
    await chmod(pgpass, 0o600);
    const libpq = [
      { PGHOST: '127.0.0.1', PGPORT: '1', PGUSER: 'postgres', PGDATABASE: 'test' },
      { PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: 'postgres', PGDATABASE: 'no_such_db_attack' },
    ];
    for (const base of libpq) {
      for (const debug of [[], ['--debug']]) {
        for (const env of [{ ...base, PGPASSWORD: PASSWORD }, { ...base, HOME: home, PGPASSFILE: pgpass }]) {
          const result = await spawnCli([...debug, '--connect-timeout', '3s', 'list'], { env });
          expect(result.code).toBe(1);
          expect(both(result)).not.toContain(PASSWORD);
          expect(both(result)).not.toContain('Pgpass-attack-7y6');
        }
      }
    }
    // doctor names the variables set, never their values.
    const doctor = await spawnCli(['--table', schema.table(), 'doctor', '--json'], { env: { PGHOST: '127.0.0.1', PGUSER: 'postgres', PGDATABASE: 'test', PGPASSWORD: PASSWORD } });
    expect(both(doctor)).toContain('PGPASSWORD');
    expect(both(doctor)).not.toContain(PASSWORD);
  });

  it("doctor names a URL with libpq's sslpassword= masked, and warns that it is on the command line", async () => {
    const url = `${databaseUrl()}${databaseUrl().includes('?') ? '&' : '?'}sslpassword=${PASSWORD}`;
    for (const format of [[], ['--json']]) {
      const result = await spawnCli(['--db', url, '--table', schema.table(), 'doctor', ...format]);
      expect(both(result)).toContain('sslpassword=***');
      expect(both(result)).not.toContain(PASSWORD);
      expect(result.stderr).toContain('warning: a password in --db');
    }
  });

  it.skipIf(!ownPostgresAvailable)('an authentication failure names no password: URL, PGPASSWORD, config file, ~/.pgpass, with --debug', async () => {
    let server: OwnPostgres | undefined;
    try {
      server = await startOwnPostgres('atk-auth');
      await server.query("create role attacker login password 'the-real-Passw0rd'");
      const hba = join(server.dir, 'data', 'pg_hba.conf');
      await writeFile(hba, `host all attacker 127.0.0.1/32 scram-sha-256\n${await readFile(hba, 'utf8')}`);
      await server.query('select pg_reload_conf()');
      const wrong = 'Wrong-attack-Passw0rd';
      const url = `postgres://attacker:${wrong}@127.0.0.1:${server.port}/postgres`;
      const home = join(server.dir, 'home');
      await mkdir(home);
      await writeFile(join(home, '.pgpass'), `127.0.0.1:${server.port}:*:attacker:${wrong}\n`, { mode: 0o600 });
      const config = join(server.dir, 'attack.yaml');
      await writeFile(config, `database:\n  url: ${url}\n`, { mode: 0o600 });
      const libpq = { PGHOST: '127.0.0.1', PGPORT: String(server.port), PGUSER: 'attacker', PGDATABASE: 'postgres' };
      for (const debug of [[], ['--debug']]) {
        const runs = [
          await spawnCli([...debug, '--db', url, 'list']),
          await spawnCli([...debug, 'list'], { env: { API7_AUDIT_DATABASE_URL: url } }),
          await spawnCli([...debug, '--config', config, 'list']),
          await spawnCli([...debug, 'list'], { env: { ...libpq, PGPASSWORD: wrong } }),
          await spawnCli([...debug, 'list'], { env: { ...libpq, HOME: home } }),
          await spawnCli([...debug, '--db', url, 'doctor']),
        ];
        expect(runs[0]?.stderr).toContain('password authentication failed');
        for (const result of runs) {
          expect(result.code, both(result)).not.toBe(0);
          expect(both(result)).not.toContain(wrong);
          expect(both(result)).not.toContain('the-real-Passw0rd');
        }
      }
    } finally {
      await server?.stop();
    }
  }, 120_000);
});
