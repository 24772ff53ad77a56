import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeServer, type FakeReply, type FakeRequest, type FaultOptions, type Protocol } from '../support/fake-server.js';

// The Elasticsearch and Datadog sinks (and the HTTP code they share with HEC) through the built binary, against
// replies a real cluster, intake or proxy gives: bulk replies with some items refused, replies cut or trickled,
// redirects, throttling with and without Retry-After, the intake's size limits. Each run either stores every entry
// or stops with one line and exit 1, never past an entry the destination did not take, never showing a key.

const ES_KEY = 'es-K3y-attack';
const DD_KEY = 'dd-K3y-attack';
const ENTRIES = 60;
let schema: TestSchema;
let dir: string;
let ids: string[];
let timestamps: Map<string, string>;
const servers: FakeServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-attack-sinks-'));
  schema = await createTestSchema('attack_sinks');
  await createDefaultTable(schema);
  await insertRows(schema, Array.from({ length: ENTRIES }, (_, i) => ({
    age: `${ENTRIES - i} minutes`,
    operator: 'alice',
    operation: 'UPDATE',
    resource_type: 'route',
    resource_id: `r-${i}`,
    after: { uri: `/r/${i}`, desc: 'x'.repeat(200) },
  })));
  // Oldest first, as export sends them.
  const rows = (await schema.query<{ id: string; ts: string }>(`select id::text, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts
    from ${schema.table()} order by created_at, id`)).rows;
  ids = rows.map((row) => row.id);
  timestamps = new Map(rows.map((row) => [row.id, row.ts]));
});
afterAll(async () => {
  await Promise.all([schema.drop(), ...servers.map((server) => server.close()), rm(dir, { recursive: true, force: true })]);
});

const exportTo = (args: string[], timeoutMs = 60_000): Promise<CliResult> =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--json', ...args], {
    env: { API7_AUDIT_ELASTIC_API_KEY: ES_KEY, DD_API_KEY: DD_KEY, API7_AUDIT_HEC_TOKEN: 'hec-T0ken-attack' },
    timeoutMs,
  });
const sorted = (values: Iterable<string>): string[] => [...values].sort((a, b) => Number(a) - Number(b));
/** The one `error:` line of a failed run, after checking it is the only line besides warnings and retry notes. */
function oneErrorLine(result: CliResult): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toMatch(/\n\s+at /);
  const errors = result.stderr.split('\n').filter((line) => line.startsWith('error:'));
  expect(errors, result.stderr).toHaveLength(1);
  for (const key of [ES_KEY, DD_KEY]) expect(result.stderr).not.toContain(key);
  return errors[0] as string;
}
const summaryOf = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { exported: number; retries: number; duplicates: number; reduced: number };
};

/** A destination whose `nth` request (from 1) may be answered by `override` instead of the protocol. */
async function startWith(protocol: Protocol, override: (request: FakeRequest, nth: number) => FakeReply | undefined, faults: FaultOptions = {}) {
  let count = 0;
  const arrivals: number[] = [];
  const wrapper: Protocol = {
    handle(request) {
      count += 1;
      arrivals.push(Date.now());
      return override(request, count) ?? protocol.handle(request);
    },
    failure: (status) => protocol.failure(status),
    discardReply: (request) => protocol.discardReply(request),
  };
  const server = await new FakeServer(wrapper, faults).start();
  servers.push(server);
  return { server, arrivals };
}
async function elastic(options: ConstructorParameters<typeof FakeElastic>[0] = {}, override: Parameters<typeof startWith>[1] = () => undefined) {
  const es = new FakeElastic({ apiKey: ES_KEY, ...options });
  return { es, ...(await startWith(es, override, options)) };
}
async function datadog(options: ConstructorParameters<typeof FakeDatadog>[0] = {}, override: Parameters<typeof startWith>[1] = () => undefined) {
  const dd = new FakeDatadog({ apiKey: DD_KEY, ...options });
  return { dd, ...(await startWith(dd, override, options)) };
}
const docId = (id: string): string => `api7-audit/api7-audit-${id}-${timestamps.get(id)}`;

describe('Elasticsearch _bulk answering 200 with errors: true', () => {
  it('items refused with 429 are resent alone, 409 (already stored) counts as a duplicate: every entry stored once', async () => {
    const { es, server } = await elastic({ itemRejectRate: 0.3, seed: 5 });
    const already = [ids[3], ids[17], ids[44]] as string[];
    for (const id of already) es.docs.set(docId(id), { id });
    const summary = summaryOf(await exportTo(['--elastic-url', server.url, '--batch-size', '10', '--concurrency', '2']));
    expect(summary.exported).toBe(ENTRIES);
    expect(summary.duplicates).toBe(already.length);
    expect(summary.retries).toBeGreaterThan(0);
    expect(sorted([...es.ids.ids, ...already])).toEqual(sorted(ids));
    expect(es.ids.duplicates).toBe(0);
  });

  it('a mapping error (400) on one item: one line naming the entry and the reason, the key an item echoes hidden; the checkpoint stops before it and a rerun completes', async () => {
    const bad = ids[25] as string; // the 26th oldest (ids are oldest first): in the third batch of 10
    const echo = (request: FakeRequest, reply: FakeReply): FakeReply => ({ ...reply, body: reply.body.replaceAll('failed to parse field', `failed to parse field (${String(request.headers.authorization)})`) });
    const es = new FakeElastic({ apiKey: ES_KEY, badIds: new Set([bad]) });
    const { server } = await startWith(es, (request) => echo(request, es.handle(request)));
    const checkpoint = join(dir, 'es-400.json');
    const args = ['--elastic-url', server.url, '--batch-size', '10', '--concurrency', '1', '--checkpoint', checkpoint];
    const line = oneErrorLine(await exportTo(args));
    expect(line).toMatch(new RegExp(`^error: Elasticsearch refused entry id ${bad} \\(item status 400, mapper_parsing_exception: failed to parse field \\(ApiKey \\*+\\)`));
    const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { id?: string; position?: { id: string } };
    expect(ids.indexOf(saved.position?.id ?? saved.id ?? ''), JSON.stringify(saved)).toBe(19); // the end of the second batch
    for (const id of ids.slice(0, 20)) expect(es.ids.has(id), `entry ${id} before the checkpoint`).toBe(true);
    expect(es.ids.has(bad)).toBe(false);

    // The cluster's mapping fixed: the rerun sends from the third batch on, what it stored before is a 409.
    const fixed = new FakeElastic({ apiKey: ES_KEY });
    for (const key of es.docs.keys()) fixed.docs.set(key, {});
    const { server: second } = await startWith(fixed, () => undefined);
    const rerun = summaryOf(await exportTo(['--elastic-url', second.url, ...args.slice(2)]));
    expect(rerun.exported).toBe(ENTRIES - 20);
    expect(rerun.duplicates).toBeLessThanOrEqual(10);
    expect(fixed.docs.size).toBe(ENTRIES);
  });

  it('the key revoked mid-run (401 from the fourth request on): one line, the key not shown, the checkpoint at what was stored, a rerun completes', async () => {
    const revoked = (request: FakeRequest): FakeReply => ({
      status: 401,
      body: JSON.stringify({ error: { type: 'security_exception', reason: `unable to authenticate with [${String(request.headers.authorization)}]` }, status: 401 }),
    });
    const { es, server } = await elastic({}, (request, nth) => (nth >= 4 ? revoked(request) : undefined));
    const checkpoint = join(dir, 'es-revoked.json');
    const args = ['--batch-size', '5', '--concurrency', '2', '--checkpoint', checkpoint];
    expect(oneErrorLine(await exportTo(['--elastic-url', server.url, ...args]))).toMatch(/^error: Elasticsearch rejected the credentials \(HTTP 401: security_exception: unable to authenticate with \[ApiKey \*+\]\)$/);
    const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { id?: string; position?: { id: string } };
    const upTo = ids.indexOf(saved.position?.id ?? saved.id ?? '');
    expect(upTo).toBeGreaterThanOrEqual(4);
    for (const id of ids.slice(0, upTo + 1)) expect(es.ids.has(id), `entry ${id} before the checkpoint`).toBe(true);

    const renewed = new FakeElastic({ apiKey: ES_KEY });
    for (const key of es.docs.keys()) renewed.docs.set(key, {});
    const { server: second } = await startWith(renewed, () => undefined);
    summaryOf(await exportTo(['--elastic-url', second.url, ...args]));
    expect(renewed.docs.size).toBe(ENTRIES);
  });

  it('a reply of {"errors":false} without the items (a proxy, a look-alike) is not taken as every entry stored', async () => {
    const { server } = await elastic({}, () => ({ status: 200, body: '{"errors":false}' }));
    const checkpoint = join(dir, 'es-no-items.json');
    const line = oneErrorLine(await exportTo(['--elastic-url', server.url, '--checkpoint', checkpoint]));
    expect(line).toMatch(/^error: Elasticsearch sent a bulk reply with no items for 60 entries: \{"errors":false\}$/);
    await expect(readFile(checkpoint, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('a reply with fewer items than entries stops the run the same way', async () => {
    const { server } = await elastic({}, () => ({ status: 200, body: '{"errors":false,"items":[{"create":{"status":201}}]}' }));
    expect(oneErrorLine(await exportTo(['--elastic-url', server.url, '--batch-size', '5']))).toMatch(/^error: Elasticsearch sent a bulk reply with 1 items for 5 entries/);
  });
});

describe('Elasticsearch 413 (http.max_content_length, or a proxy\'s limit) for a batch too large', () => {
  it('halves the batch until each part fits, and splits later batches before sending them: one 413 in all, every entry stored once', async () => {
    const { es, server, arrivals } = await elastic({ maxBodyBytes: 6000 });
    const summary = summaryOf(await exportTo(['--elastic-url', server.url, '--batch-size', '20', '--concurrency', '1']));
    expect(server.requestCount - arrivals.length, 'requests refused with 413').toBe(1);
    expect(summary.reduced).toBe(0);
    expect(summary.duplicates).toBe(0);
    expect(sorted(es.ids.ids)).toEqual(sorted(ids));
    expect(es.received.duplicates).toBe(0);
  });
});

describe('replies cut, trickled or redirected', () => {
  it.each([
    ['cut mid-body (reset after 20 bytes)', { cutAfterBytes: 20 }],
    ['cut right after the headers', { cutAfterBytes: 0 }],
  ])('Elasticsearch, a 200 %s: retried, every entry stored once (a resend is a 409)', async (_what, cut) => {
    const { es, server } = await elastic({}, (request, nth) => (nth <= 3 ? { ...es.handle(request), ...cut } : undefined));
    const summary = summaryOf(await exportTo(['--elastic-url', server.url, '--batch-size', '20', '--concurrency', '1']));
    expect(summary.exported).toBe(ENTRIES);
    expect(summary.retries).toBeGreaterThanOrEqual(3);
    expect(sorted(es.ids.ids)).toEqual(sorted(ids));
    expect(es.ids.duplicates).toBe(0);
  });

  it('Datadog, a 202 cut mid-body: retried, every entry arrives (resends bounded by the batches cut)', async () => {
    const { dd, server } = await datadog({}, (request, nth) => (nth <= 2 ? { ...dd.handle(request), body: '{"status":"accepted"}', cutAfterBytes: 5 } : undefined));
    const summary = summaryOf(await exportTo(['--datadog-url', server.url, '--batch-size', '20', '--concurrency', '1']));
    expect(summary.exported).toBe(ENTRIES);
    expect(sorted(new Set(dd.ids.ids))).toEqual(sorted(ids));
    expect(dd.ids.duplicates).toBeLessThanOrEqual(2 * 20);
  });

  it.each([
    ['Elasticsearch', '--elastic-url', () => elastic({}, (request) => ({ ...new FakeElastic({ apiKey: ES_KEY }).handle(request), trickleMs: 200 }))],
    ['Datadog', '--datadog-url', () => datadog({}, () => ({ status: 202, body: '{}'.repeat(100), trickleMs: 200 }))],
    ['Splunk HEC', '--hec-url', () => elastic({}, () => ({ status: 200, body: '{"text":"Success","code":0}', trickleMs: 200 }))],
  ])('%s trickling its reply a byte every 200 ms: --timeout bounds the whole reply, the run gives up with one line', async (name, flag, start) => {
    const { server } = await start();
    const started = Date.now();
    const result = await exportTo([flag, server.url, '--timeout', '1s', '--max-retry-time', '2s'], 60_000);
    expect(Date.now() - started, 'does not hang').toBeLessThan(30_000);
    expect(oneErrorLine(result)).toMatch(new RegExp(`^error: ${name}: gave up on 60 entries \\(from id ${ids[0]}\\) after \\d+ attempts .*reply not complete within the request timeout \\(1000 ms\\)$`));
  });

  it.each([
    ['Elasticsearch', '--elastic-url', ES_KEY],
    ['Datadog', '--datadog-url', DD_KEY],
  ])('%s redirecting (307) to another host: not followed, the key not sent there, one line naming the target', async (name, flag, key) => {
    const other = await elastic();
    const location = `${other.server.url.replace('//', `//user:${key}@`)}/elsewhere/${key}/?token=${key}`;
    const { server } = await elastic({}, () => ({ status: 307, body: '', headers: { location } }));
    const line = oneErrorLine(await exportTo([flag, server.url]));
    expect(line).toBe(`error: ${name} answered HTTP 307, a redirect to ${other.server.url}/elsewhere/******/; redirects are not followed, so that the credentials stay with the host they are for: give the URL it names`);
    expect(other.server.requestCount).toBe(0);
  });
});

describe('Datadog intake limits and throttling', () => {
  it('429 without Retry-After is retried with backoff; with Retry-After: 1 the next attempt waits a second', async () => {
    const plain = await datadog({ failFirst: 3, failStatus: 429 });
    const summary = summaryOf(await exportTo(['--datadog-url', plain.server.url]));
    expect(summary.retries).toBe(3);
    expect(sorted(plain.dd.ids.ids)).toEqual(sorted(ids));

    const paced = await datadog({ failFirst: 2, failStatus: 429, retryAfterSeconds: 1 });
    summaryOf(await exportTo(['--datadog-url', paced.server.url]));
    expect(sorted(paced.dd.ids.ids)).toEqual(sorted(ids));
    const gaps = paced.arrivals.slice(1).map((at, i) => at - (paced.arrivals[i] as number));
    expect(gaps.slice(0, 2).every((gap) => gap >= 950), `gaps ${gaps.join(', ')} ms`).toBe(true);
  });

  it('a 429 asking for an hour (Retry-After: 3600), past --max-retry-time: the run ends at once and the line says why', async () => {
    const { server } = await datadog({ failFirst: 100, failStatus: 429, retryAfterSeconds: 3600 });
    const started = Date.now();
    const line = oneErrorLine(await exportTo(['--datadog-url', server.url]));
    expect(Date.now() - started, 'does not wait the hour').toBeLessThan(30_000);
    expect(line).toMatch(/^error: Datadog: gave up on 60 entries .* after 1 attempts .*last answer: Datadog answered HTTP 429 \(Retry-After 3600 s\)/);
  });

  it('a relay answering 204 (or 200) instead of 202 has taken the logs: every entry once, exit 0', async () => {
    const { dd, server } = await datadog({}, (request, nth) => ({ ...dd.handle(request), status: nth % 2 === 0 ? 204 : 200, body: '' }));
    summaryOf(await exportTo(['--datadog-url', server.url, '--batch-size', '20']));
    expect(sorted(dd.ids.ids)).toEqual(sorted(ids));
  });

  it('replies slower than --timeout after the intake stored the logs: sent again, so those arrive twice (Datadog cannot tell a resend), none missing', async () => {
    const { dd, server } = await datadog({ seed: 3, slowRate: 0.3, slowMs: 2500 });
    summaryOf(await exportTo(['--datadog-url', server.url, '--batch-size', '10', '--timeout', '1s']));
    expect(server.faults.slow).toBeGreaterThan(0);
    expect(sorted(new Set(dd.ids.ids))).toEqual(sorted(ids));
    expect(dd.ids.duplicates).toBeLessThanOrEqual(server.faults.slow * 10);
  });

  it('an intake taking at most 7 logs a request answers 413 above it: the batch is halved until it fits, nothing lost or reduced', async () => {
    const { dd, server } = await datadog({ maxEntries: 7 });
    const summary = summaryOf(await exportTo(['--datadog-url', server.url, '--batch-size', '30']));
    expect(summary.reduced).toBe(0);
    expect(sorted(dd.ids.ids)).toEqual(sorted(ids));
    expect(dd.requests.every((request) => request.entries <= 7)).toBe(true);
  });
});

describe('Datadog: requests within 1,000 logs and 5 MB whatever --batch-size says', () => {
  let big: TestSchema;
  let bigIds: string[];
  const BIG = 2300;
  beforeAll(async () => {
    big = await createTestSchema('attack_sinks_dd');
    await createDefaultTable(big);
    // 1,300 small entries and 1,000 of ~6 KB: 1,000 of those are 6 MB, over the 5 MB a request may carry.
    await big.query(
      `insert into ${big.table()} (created_at, operator, operation, resource_type, resource_id, after)
       select now() - interval '1 hour' + g * interval '1 ms', 'bob', 'update', 'route', 'r-' || g,
              jsonb_build_object('n', g, 'pad', case when g > 1300 then repeat('é', 3000) else '' end)
       from generate_series(1, ${BIG}) g`,
    );
    bigIds = (await big.query<{ id: string }>(`select id::text from ${big.table()}`)).rows.map((row) => row.id);
  });
  afterAll(() => big.drop());

  // The batcher holds a batch to 4 MB of entries, so the envelopes (about 150 bytes a log) keep a request under 5 MB.
  it('--batch-size 5000: every request at most 1,000 logs and 5,000,000 bytes, none refused, every entry once', async () => {
    const { dd, server } = await datadog({ maxPayloadBytes: 5_000_000 });
    const result = await spawnCli(['--db', databaseUrl(), '--table', big.table(), 'export', '--json', '--datadog-url', server.url, '--batch-size', '5000', '--gzip'], { env: { DD_API_KEY: DD_KEY } });
    expect(summaryOf(result).exported).toBe(BIG);
    expect(server.requestCount).toBe(dd.requests.length); // no 413
    expect(Math.max(...dd.requests.map((request) => request.entries))).toBe(1000);
    expect(Math.max(...dd.requests.map((request) => request.bytes))).toBeLessThanOrEqual(5_000_000);
    expect(sorted(dd.ids.ids)).toEqual(sorted(bigIds));
  });
});

describe('Datadog: entries dated more than 18 hours back (the intake answers 202 and drops such logs)', () => {
  let old: TestSchema;
  let oldIds: string[];
  beforeAll(async () => {
    old = await createTestSchema('attack_sinks_dd_old');
    await createDefaultTable(old);
    await insertRows(old, ['30 days', '20 hours', '17 hours 30 minutes', '1 hour'].map((age, i) => ({ age, operator: 'carol', operation: 'UPDATE', resource_type: 'route', resource_id: `r-${i}` })));
    oldIds = (await old.query<{ id: string }>(`select id::text from ${old.table()} order by created_at, id`)).rows.map((row) => row.id);
  });
  afterAll(() => old.drop());

  it('every entry arrives: those over 17 hours old undated (Datadog dates them on receipt) with one warning naming the first; the rest with their own date', async () => {
    const { dd, server } = await datadog();
    const result = await spawnCli(['--db', databaseUrl(), '--table', old.table(), 'export', '--json', '--datadog-url', server.url, '--batch-size', '2'], { env: { DD_API_KEY: DD_KEY } });
    expect(summaryOf(result).exported).toBe(4);
    expect(dd.droppedAsOld).toEqual([]);
    expect(sorted(dd.ids.ids)).toEqual(sorted(oldIds));
    const dated = new Map(dd.logs.map((log) => [String((log.audit as { id: unknown }).id), log.timestamp]));
    expect(oldIds.slice(0, 3).map((id) => dated.get(id))).toEqual([undefined, undefined, undefined]);
    const recent = dd.logs.find((log) => (log.audit as { id: unknown }).id === oldIds[3]);
    expect(recent?.timestamp).toBe(Date.parse((recent?.audit as { timestamp: string }).timestamp));
    const warnings = result.stderr.split('\n').filter(Boolean);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^warning: entries older than 17 hours \\(the first: id ${oldIds[0]}, \\d{4}-.*\\) go to Datadog without their own date`))]);
  });
});

describe('Datadog: a log over 1 MB in UTF-8 bytes though under a million characters', () => {
  let wide: TestSchema;
  beforeAll(async () => {
    wide = await createTestSchema('attack_sinks_dd_wide');
    await createDefaultTable(wide);
    await insertRows(wide, [
      { age: '3 minutes', operator: 'dave', operation: 'UPDATE', resource_type: 'route', resource_id: 'small', after: { n: 1 } },
      { age: '2 minutes', operator: 'dave', operation: 'UPDATE', resource_type: 'route', resource_id: 'wide', after: { pad: 'é'.repeat(600_000) } },
      { age: '1 minute', operator: 'dave', operation: 'UPDATE', resource_type: 'route', resource_id: 'after', after: { n: 3 } },
    ]);
  });
  afterAll(() => wide.drop());

  it('goes reduced (its state replaced by the marker with its byte size), named on stderr; the entries around it intact', async () => {
    const { dd, server } = await datadog();
    const result = await spawnCli(['--db', databaseUrl(), '--table', wide.table(), 'export', '--json', '--datadog-url', server.url], { env: { DD_API_KEY: DD_KEY } });
    expect(summaryOf(result).reduced).toBe(1);
    expect(result.stderr).toMatch(/Datadog accepts logs up to 1 MB; this one is 12\d{5} bytes/);
    const byResource = new Map(dd.logs.map((log) => [(log.audit as { resource_id: string }).resource_id, log.audit as { after: unknown }]));
    expect(byResource.get('wide')?.after).toEqual({ $api7_audit: 'omitted', reason: 'too_large', bytes: 1_200_011, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(byResource.get('small')?.after).toEqual({ n: 1 });
    expect(byResource.get('after')?.after).toEqual({ n: 3 });
    for (const log of dd.logs) expect(Buffer.byteLength(JSON.stringify(log))).toBeLessThanOrEqual(1_000_000);
  });
});
