import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeDatadog } from '../support/fake-datadog.js';
import { FakeElastic } from '../support/fake-elastic.js';
import { FakeHec } from '../support/fake-hec.js';
import type { FakeServer } from '../support/fake-server.js';
import { startRecorded, type RecordedRequest } from '../support/recording.js';

// Every destination through the built binary (npm run build first), each sink being a chunk the bundle loads on
// demand, with each way of giving it a credential: the variable, the --*-file flag, the flag itself (which warns).
// Each run must deliver every entry once, masked, and never print the credential.

const ENTRIES = 25;
const PASSWORD = 'db-S3cret-pw';
let schema: TestSchema;
let dir: string;
let ids: string[];
const servers: FakeServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-sinks-'));
  schema = await createTestSchema('acc_sinks');
  await createDefaultTable(schema);
  // About 300 bytes each: a batch is well over the 1 KB below which --gzip leaves a body as it is.
  ids = await insertRows(schema, Array.from({ length: ENTRIES }, (_, i) => ({
    age: `${i + 1} hours`,
    operator: 'alice',
    operation: 'UPDATE',
    resource_type: 'consumer',
    resource_id: `c-${i}`,
    before: { username: `u${i}`, plugins: { 'basic-auth': { password: PASSWORD } } },
    after: { username: `u${i}`, desc: `consumer ${i} `.repeat(12) },
  })));
});
afterAll(async () => {
  await Promise.all([schema.drop(), ...servers.map((server) => server.close()), rm(dir, { recursive: true, force: true })]);
});

const exportTo = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--json', ...args], { env });
const file = async (name: string, content: string) => {
  const path = join(dir, name);
  await writeFile(path, content);
  await chmod(path, 0o600);
  return path;
};
const summaryOf = (result: CliResult) => {
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return JSON.parse(result.stdout) as { exported: number; destination: string; retries: number };
};
const sorted = (values: Iterable<string>) => [...values].sort((a, b) => Number(a) - Number(b));
/** Every request that carried a body large enough was compressed, and arrived smaller than it decodes to. */
const expectGzipped = (requests: RecordedRequest[]) => {
  const bodies = requests.filter((request) => request.bodyBytes >= 1024);
  expect(bodies.length).toBeGreaterThan(0);
  for (const request of bodies) {
    expect(request.headers['content-encoding']).toBe('gzip');
    expect(request.rawBytes).toBeLessThan(request.bodyBytes);
  }
};

async function hec(options: ConstructorParameters<typeof FakeHec>[0] = {}) {
  const protocol = new FakeHec({ token: 'hec-T0ken-x', ...options });
  const started = await startRecorded(protocol);
  servers.push(started.server);
  return { ...started, hec: protocol };
}

describe('Splunk HEC', () => {
  it('API7_AUDIT_HEC_TOKEN: every entry once as an event, masked, the token never printed', async () => {
    const { server, hec: fake, requests } = await hec();
    const summary = summaryOf(await exportTo(['--hec-url', server.url, '--hec-index', 'audit'], { API7_AUDIT_HEC_TOKEN: 'hec-T0ken-x' }));
    expect(summary.exported).toBe(ENTRIES);
    expect(sorted(fake.ids.ids)).toEqual(sorted(ids));
    expect(fake.events[0]).toMatchObject({ sourcetype: 'api7:audit', source: 'api7-audit', index: 'audit' });
    expect(JSON.stringify(fake.events)).not.toContain(PASSWORD);
    expect(requests.every((request) => request.headers.authorization === 'Splunk hec-T0ken-x')).toBe(true);
    expect(requests.some((request) => request.headers['content-encoding'] === 'gzip')).toBe(false);
  });

  it('--hec-token-file with --gzip: compressed bodies, every entry', async () => {
    const { server, hec: fake, requests } = await hec();
    const tokenFile = await file('hec-token', 'hec-T0ken-x\n');
    const result = await exportTo(['--hec-url', server.url, '--hec-token-file', tokenFile, '--gzip']);
    expect(summaryOf(result).exported).toBe(ENTRIES);
    expect(result.stderr).toBe('');
    expect(fake.ids.unique).toBe(ENTRIES);
    expectGzipped(requests);
  });

  it('--hec-token on the command line works and warns; a wrong token is one line, exit 1, the token not printed', async () => {
    const { server, hec: fake } = await hec();
    const flagged = await exportTo(['--hec-url', server.url, '--hec-token', 'hec-T0ken-x']);
    expect(summaryOf(flagged).exported).toBe(ENTRIES);
    expect(flagged.stderr).toMatch(/^warning: --hec-token on the command line is visible to other users/);
    expect(flagged.stderr).not.toContain('hec-T0ken-x');
    expect(fake.ids.unique).toBe(ENTRIES);

    const wrong = await exportTo(['--hec-url', server.url, '--max-retry-time', '1s'], { API7_AUDIT_HEC_TOKEN: 'wrong-T0ken-y' });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: .*403/)]);
    expect(wrong.stderr).not.toContain('wrong-T0ken-y');
  });

  it('--hec-ack: a batch counts only once the indexers acknowledge it, on one channel', async () => {
    const { server, hec: fake } = await hec({ ack: true, ackAfterPolls: 2 });
    const checkpoint = join(dir, 'hec-ack.json');
    const summary = summaryOf(await exportTo(['--hec-url', server.url, '--hec-ack', '--gzip', '--checkpoint', checkpoint], { API7_AUDIT_HEC_TOKEN: 'hec-T0ken-x' }));
    expect(summary.exported).toBe(ENTRIES);
    expect(fake.ids.unique).toBe(ENTRIES);
    expect(fake.channels.size).toBe(1);
    // ackAfterPolls 2: each batch was polled at least twice before it counted.
    expect(fake.ackQueries).toBeGreaterThanOrEqual(2);
    const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { id: string };
    expect(saved.id).toBe(ids[0]);
  });

  it('--hec-ack against a token without acknowledgment: one line naming the cause, exit 1, nothing counted', async () => {
    const { server } = await hec();
    const checkpoint = join(dir, 'hec-no-ack.json');
    const result = await exportTo(['--hec-url', server.url, '--hec-ack', '--max-retry-time', '1s', '--checkpoint', checkpoint], { API7_AUDIT_HEC_TOKEN: 'hec-T0ken-x' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    // Unacknowledged, nothing counts as delivered: no checkpoint to continue after.
    await expect(readFile(checkpoint, 'utf8')).rejects.toThrow(/ENOENT/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: Splunk HEC returned no ackId \(is indexer acknowledgment enabled for the token\?\)/)]);
  });
});

describe('where a credential comes from', () => {
  it('--hec-token-file beats API7_AUDIT_HEC_TOKEN', async () => {
    const { server, hec: fake } = await hec();
    const tokenFile = await file('hec-token-wins', 'hec-T0ken-x\n');
    const result = await exportTo(['--hec-url', server.url, '--hec-token-file', tokenFile], { API7_AUDIT_HEC_TOKEN: 'stale-T0ken-z' });
    expect(summaryOf(result).exported).toBe(ENTRIES);
    expect(fake.ids.unique).toBe(ENTRIES);
  });

  it.each([
    ['none given', [] as string[], /^error: no credential: set DD_API_KEY, or give --datadog-api-key-file FILE$/],
    ['a missing file', ['--datadog-api-key-file', '/nonexistent/dd-key'], /^error: cannot read --datadog-api-key-file '\/nonexistent\/dd-key': no such file$/],
    ['the flag and the file', ['--datadog-api-key', 'dd-K3y-x', '--datadog-api-key-file', '/nonexistent/dd-key'], /^error: give --datadog-api-key or --datadog-api-key-file, not both$/],
  ])('%s: one line, exit 2, nothing sent', async (_name, args, message) => {
    const protocol = new FakeDatadog({ apiKey: 'dd-K3y-x' });
    const { server } = await startRecorded(protocol);
    servers.push(server);
    const result = await exportTo(['--datadog-url', server.url, ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n').filter((line) => line.startsWith('error:'))).toEqual([expect.stringMatching(message)]);
    expect(result.stderr).not.toContain('dd-K3y-x');
    expect(server.requestCount).toBe(0);
  });
});

describe('Elasticsearch', () => {
  async function elastic() {
    const protocol = new FakeElastic({ apiKey: 'es-K3y-x' });
    const started = await startRecorded(protocol);
    servers.push(started.server);
    return { ...started, es: protocol };
  }

  it('API7_AUDIT_ELASTIC_API_KEY: every entry once in the default index, masked', async () => {
    const { server, es } = await elastic();
    const summary = summaryOf(await exportTo(['--elastic-url', server.url], { API7_AUDIT_ELASTIC_API_KEY: 'es-K3y-x' }));
    expect(summary.exported).toBe(ENTRIES);
    expect(sorted(es.ids.ids)).toEqual(sorted(ids));
    expect([...es.docs.keys()].every((key) => key.startsWith('api7-audit/'))).toBe(true);
    expect(JSON.stringify([...es.docs.values()])).not.toContain(PASSWORD);
  });

  it('--elastic-api-key-file, --elastic-index and --gzip', async () => {
    const { server, es, requests } = await elastic();
    const keyFile = await file('es-key', 'es-K3y-x\n');
    const result = await exportTo(['--elastic-url', server.url, '--elastic-api-key-file', keyFile, '--elastic-index', 'audit-2026', '--gzip']);
    expect(summaryOf(result).exported).toBe(ENTRIES);
    expect(result.stderr).toBe('');
    expect(es.ids.unique).toBe(ENTRIES);
    expect([...es.docs.keys()].every((key) => key.startsWith('audit-2026/'))).toBe(true);
    expectGzipped(requests);
  });

  it('--elastic-api-key on the command line works and warns without printing it', async () => {
    const { server, es } = await elastic();
    const result = await exportTo(['--elastic-url', server.url, '--elastic-api-key', 'es-K3y-x']);
    expect(summaryOf(result).exported).toBe(ENTRIES);
    expect(result.stderr).toMatch(/^warning: --elastic-api-key on the command line is visible/);
    expect(result.stderr).not.toContain('es-K3y-x');
    expect(es.ids.unique).toBe(ENTRIES);
  });
});

describe('Datadog', () => {
  async function datadog() {
    const protocol = new FakeDatadog({ apiKey: 'dd-K3y-x' });
    const started = await startRecorded(protocol);
    servers.push(started.server);
    return { ...started, dd: protocol };
  }

  it('DD_API_KEY: every entry once as a log with service and tags, masked', async () => {
    const { server, dd } = await datadog();
    const summary = summaryOf(await exportTo(['--datadog-url', server.url, '--datadog-service', 'gw-audit', '--datadog-tags', 'env:test,team:qa'], { DD_API_KEY: 'dd-K3y-x' }));
    expect(summary.exported).toBe(ENTRIES);
    expect(sorted(dd.ids.ids)).toEqual(sorted(ids));
    expect(dd.logs[0]).toMatchObject({ service: 'gw-audit', ddtags: expect.stringContaining('env:test') });
    expect(JSON.stringify(dd.logs)).not.toContain(PASSWORD);
    expect(dd.requests.every((request) => !request.gzip)).toBe(true);
  });

  it('--datadog-api-key-file with --gzip', async () => {
    const { server, dd, requests } = await datadog();
    const keyFile = await file('dd-key', 'dd-K3y-x\n');
    const result = await exportTo(['--datadog-url', server.url, '--datadog-api-key-file', keyFile, '--gzip']);
    expect(summaryOf(result).exported).toBe(ENTRIES);
    // Entries here are up to 25 hours old: those past 17 go undated, said once (attack-sinks).
    expect(result.stderr).toMatch(/^warning: entries older than 17 hours \(the first: id \d+, [^)]*\) go to Datadog without their own date[^\n]*\n$/);
    expect(dd.ids.unique).toBe(ENTRIES);
    expect(dd.requests.some((request) => request.gzip)).toBe(true);
    expectGzipped(requests);
  });

  it('--datadog-api-key on the command line works and warns without printing it', async () => {
    const { server, dd } = await datadog();
    const result = await exportTo(['--datadog-url', server.url, '--datadog-api-key', 'dd-K3y-x']);
    expect(summaryOf(result).exported).toBe(ENTRIES);
    expect(result.stderr).toMatch(/^warning: --datadog-api-key on the command line is visible/);
    expect(result.stderr).not.toContain('dd-K3y-x');
    expect(dd.ids.unique).toBe(ENTRIES);
  });
});

describe('files and stdout', () => {
  const linesOf = (text: string) => text.split('\n').filter(Boolean);

  it.each(['plain.ndjson', 'packed.ndjson.gz'])('--out %s: every entry once, oldest first, masked', async (name) => {
    const out = join(dir, name);
    const summary = summaryOf(await exportTo(['--out', out]));
    expect(summary.exported).toBe(ENTRIES);
    const bytes = await readFile(out);
    if (name.endsWith('.gz')) expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const text = (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
    expect(linesOf(text).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual([...ids].reverse());
    expect(text).not.toContain(PASSWORD);
  });

  it('--out -: NDJSON alone on stdout, the summary on stderr', async () => {
    const result = await spawnCli(['--db', databaseUrl(), '--table', schema.table(), 'export', '--out', '-']);
    expect(result.code, result.stderr).toBe(0);
    expect(linesOf(result.stdout).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual([...ids].reverse());
    expect(result.stderr).toMatch(new RegExp(`^exported ${ENTRIES} entries to stdout`));
    expect(result.stdout).not.toContain(PASSWORD);
  });
});

describe('each sink under 503, 429 and connections cut mid-body (--gzip, batches of 5)', () => {
  // The first two requests fail whatever the draw, so every run retries.
  const faults = { seed: 7, failFirst: 2, failRate: 0.25, failStatuses: [503, 429], dropRate: 0.1 };
  const cases: [string, () => Promise<{ server: FakeServer; stored: () => string[] }>, string[], NodeJS.ProcessEnv][] = [
    ['Splunk HEC', async () => {
      const protocol = new FakeHec({ token: 'hec-T0ken-x', ...faults });
      const { server } = await startRecorded(protocol, faults);
      return { server, stored: () => protocol.ids.ids };
    }, ['--hec-url'], { API7_AUDIT_HEC_TOKEN: 'hec-T0ken-x' }],
    ['Elasticsearch', async () => {
      const protocol = new FakeElastic({ apiKey: 'es-K3y-x', itemRejectRate: 0.05, ...faults });
      const { server } = await startRecorded(protocol, faults);
      return { server, stored: () => protocol.ids.ids };
    }, ['--elastic-url'], { API7_AUDIT_ELASTIC_API_KEY: 'es-K3y-x' }],
    ['Datadog', async () => {
      const protocol = new FakeDatadog({ apiKey: 'dd-K3y-x', ...faults });
      const { server } = await startRecorded(protocol, faults);
      return { server, stored: () => protocol.ids.ids };
    }, ['--datadog-url'], { DD_API_KEY: 'dd-K3y-x' }],
  ];

  it.each(cases)('%s: every entry stored once, the retries counted, exit 0', async (_name, start, flag, env) => {
    const { server, stored } = await start();
    servers.push(server);
    const result = await exportTo([...flag, server.url, '--gzip', '--batch-size', '5', '--concurrency', '2'], env);
    const summary = summaryOf(result);
    expect(summary.exported).toBe(ENTRIES);
    expect(summary.retries).toBeGreaterThanOrEqual(2);
    expect(sorted(stored())).toEqual(sorted(ids));
    expect(server.faults.failed).toBeGreaterThanOrEqual(2);
  });
});
