import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { createDefaultTable, createTestSchema, databaseUrl, insertRows, type TestSchema } from '../support/database.js';

// H44 mutation audit (docs/decisions/008-mutation-audit.md): `pem` taken out of the secret names left every secrets
// test passing, because each gave it a PEM-shaped value, which the value rules mask whatever the name. Here each
// name the README lists as a secret holds a value of no recognizable shape, so only its name can mask it.

/** The names README.md ("Fields named like a secret, anywhere") lists, as written there. */
const NAMED = ['password', 'passphrase', 'secret', 'token', 'access_token', 'refresh_token', 'api_key', 'client_secret', 'private_key', 'signing_key', 'pem', 'authorization', 'cookie', 'x-auth-token', 'x-api-key', 'passwords', 'passphrases', 'secrets', 'api_keys', 'private_keys'];
/** The plurals hold what plurals hold (found by H45: `"passwords": ["v1", "v2"]` was shown): a list, a map. */
const PLURAL_VALUES = (side: string): Record<string, unknown> => ({
  passwords: [`${CANARY}-${side}-p1`, `${CANARY}-${side}-p2`],
  secrets: { webhook: `${CANARY}-${side}-s1`, nested: [`${CANARY}-${side}-s2`] },
  apiKeys: [`${CANARY}-${side}-k1`],
});
const CANARY = 'Zq7plainCNRY';

let schema: TestSchema;
let id: string;
beforeAll(async () => {
  schema = await createTestSchema('acc_h44_secrets');
  await createDefaultTable(schema);
  const state = (side: string) => Object.fromEntries(NAMED.map((name) => [name, `${CANARY}-${side}-${name}`]));
  [id] = (await insertRows(schema, [{ age: '1 hour', operator: 'alice', resource_type: 'route', resource_id: 'r-1', before: state('before'), after: state('after') }])) as [string];
  await insertRows(schema, [{ age: '30 minutes', operator: 'alice', resource_type: 'consumer', resource_id: 'c-1', before: PLURAL_VALUES('before'), after: PLURAL_VALUES('after') }]);
});
afterAll(async () => {
  await schema.drop();
});

const cli = (...args: string[]) => spawnCli(['--db', databaseUrl(), '--table', schema.table(), ...args]);

describe('every secret name the README lists, holding a value of no secret shape', () => {
  it.each([
    ['list --output json', ['list', '--output', 'json']],
    ['list --output ndjson', ['list', '--output', 'ndjson']],
    ['list --output csv with the states', ['list', '--output', 'csv', '--fields', 'id,before,after']],
  ])('%s masks each one', async (_, args) => {
    const result = await cli(...args);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('******');
    expect(result.stdout).not.toContain(CANARY);
  });

  it('show (text and json) masks each one', async () => {
    for (const output of ['text', 'json']) {
      const result = await cli('show', id, '--output', output);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).not.toContain(CANARY);
    }
  });

  it('history and export mask each one too, the plurals\' lists and maps whole', async () => {
    for (const args of [['history', 'route:r-1', '--output', 'ndjson'], ['history', 'consumer:c-1'], ['export', '--out', '-', '--settle', '0']]) {
      const result = await cli(...args);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout, args.join(' ')).not.toContain(CANARY);
    }
    const result = await cli('list', '--output', 'json', '--resource', 'consumer:c-1');
    const [entry] = JSON.parse(result.stdout) as { after: Record<string, unknown> }[];
    expect(entry?.after).toEqual({ passwords: '******', secrets: '******', apiKeys: '******' });
  });

  it('the JSON holds each name, masked', async () => {
    const result = await cli('list', '--output', 'json', '--resource', 'route:r-1');
    const [entry] = JSON.parse(result.stdout) as { after: Record<string, unknown> }[];
    expect(Object.fromEntries(NAMED.map((name) => [name, entry?.after[name]]))).toEqual(Object.fromEntries(NAMED.map((name) => [name, '******'])));
  });
});
