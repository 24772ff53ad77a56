import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';
import { FakeHec } from '../support/fake-hec.js';
import { FakeServer, type FakeReply, type FakeRequest, type Protocol } from '../support/fake-server.js';

// H44 mutation audit (docs/decisions/008-mutation-audit.md): with HEC's HTTP 200 taken as delivered whatever its
// `code`, every export test passed; none had a 200 carry an error. A proxy or a HEC look-alike can: the batch
// must be retried (busy) or refused (invalid), never counted delivered and checkpointed past.

const TOKEN = 'hec-h44-token';
let schema: TestSchema;
let dir: string;
let ids: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api7-h44-export-'));
  schema = await createTestSchema('acc_h44_export');
  await createDefaultTable(schema);
  ids = await insertRows(schema, Array.from({ length: 30 }, (_, i) => ({ age: `${60 - i} minutes`, operator: 'alice', resource_id: `r-${i}` })));
});
afterAll(async () => {
  await Promise.all([schema.drop(), rm(dir, { recursive: true, force: true })]);
});

/** HEC whose requests number `errorAt` (from 1) are answered HTTP 200 with `body`, storing nothing. */
class ErrorIn200 implements Protocol {
  private handled = 0;
  constructor(readonly hec: FakeHec, private readonly errorAt: ReadonlySet<number>, private readonly body: string) {}
  handle(request: FakeRequest): FakeReply {
    this.handled += 1;
    return this.errorAt.has(this.handled) ? { status: 200, body: this.body } : this.hec.handle(request);
  }
  failure(status: number): FakeReply {
    return this.hec.failure(status);
  }
  discardReply(): FakeReply {
    return this.hec.discardReply();
  }
}

async function exportTo(protocol: ErrorIn200, checkpoint: string) {
  const server = await new FakeServer(protocol).start();
  try {
    return await spawnCli(
      ['--db', databaseUrl(), '--table', schema.table(), 'export', '--hec-url', server.url, '--checkpoint', checkpoint, '--batch-size', '10', '--concurrency', '1', '--settle', '0s', '--json'],
      { env: { API7_AUDIT_HEC_TOKEN: TOKEN } },
    );
  } finally {
    await server.close();
  }
}

describe('HEC answering HTTP 200 with an error code', () => {
  it('"server busy" (code 9) in a 200: the batch is sent again, every entry arrives', async () => {
    const protocol = new ErrorIn200(new FakeHec({ token: TOKEN }), new Set([2, 3]), '{"text":"Server is busy","code":9}');
    const result = await exportTo(protocol, join(dir, 'busy.checkpoint.json'));
    expect(result.code, result.stderr).toBe(0);
    expect([...new Set(protocol.hec.ids.ids)].sort()).toEqual([...ids].sort());
  });

  it('"invalid data format" (code 6) in a 200: exit 1, and the checkpoint is not past what was stored', async () => {
    const checkpoint = join(dir, 'invalid.checkpoint.json');
    const protocol = new ErrorIn200(new FakeHec({ token: TOKEN }), new Set([2]), '{"text":"Invalid data format","code":6}');
    const result = await exportTo(protocol, checkpoint);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('Invalid data format');
    const written = JSON.parse(await readFile(checkpoint, 'utf8')) as { id: string };
    expect(protocol.hec.ids.ids).toContain(written.id);
    expect(protocol.hec.ids.ids).toHaveLength(10);
  });
});
