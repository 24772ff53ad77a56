import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { printEntries, type PrintOptions } from '../../src/output/print-entries.js';
import { parseFields } from '../../src/output/fields.js';
import { checkJq } from '../../src/output/jq.js';
import type { OutputFormat } from '../../src/output/writers.js';
import { makeEntry } from './output-fixtures.js';

async function print(format: OutputFormat, options: PrintOptions, entries = [makeEntry(), makeEntry({ id: '43', operator: 'bob' })]) {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  async function* stream() {
    yield* entries;
  }
  await printEntries(stream(), format, { stdout, stderr: new PassThrough(), env: {}, cwd: '/', stdoutIsTty: false, stderrIsTty: false }, options);
  return Buffer.concat(chunks).toString('utf8');
}

describe('--fields', () => {
  it('json, ndjson and csv carry only the fields asked for, in their order', async () => {
    const fields = parseFields('operator, id', false);
    expect(JSON.parse(await print('json', { fields }))).toEqual([{ operator: 'alice', id: '42' }, { operator: 'bob', id: '43' }]);
    expect(await print('ndjson', { fields })).toBe('{"operator":"alice","id":"42"}\n{"operator":"bob","id":"43"}\n');
    expect(await print('csv', { fields })).toBe('operator,id\r\nalice,42\r\nbob,43\r\n');
    expect(await print('json', { fields }, [])).toBe('[]\n');
  });
  it('an unknown field is a usage error listing the known ones', () => {
    expect(() => parseFields('id,user', false)).toThrow("invalid --fields 'id,user': user is not an entry field; use id,timestamp,operator");
    expect(() => parseFields('resource', false)).toThrow('resource is not an entry field');
    expect(parseFields('ID,resource', true)).toEqual(['id', 'resource']);
    expect(() => parseFields(',', true)).toThrow("invalid --fields ','");
  });
});

describe('--with-cursor', () => {
  it('json is {"entries": [...], "next_cursor": ...}', async () => {
    const text = await print('json', { nextCursor: () => 'abc' });
    expect(JSON.parse(text)).toEqual({ entries: [expect.objectContaining({ id: '42' }), expect.objectContaining({ id: '43' })], next_cursor: 'abc' });
    expect(JSON.parse(await print('json', { nextCursor: () => undefined }, []))).toEqual({ entries: [], next_cursor: null });
  });
});

describe('--jq', () => {
  it('filters the JSON with jq, strings raw as in gh', async () => {
    expect(await print('json', { jq: '.[].operator' })).toBe('alice\nbob\n');
    expect(await print('table', { jq: 'map(.id) | length' })).toBe('2\n');
    expect(await print('json', { jq: '.next_cursor', nextCursor: () => 'c1' })).toBe('c1\n');
  });
  it('a broken expression is a usage error before any query', async () => {
    await expect(checkJq('.[] |')).rejects.toThrow("invalid --jq '.[] |': syntax error");
    await expect(checkJq('.[].id')).resolves.toBeUndefined();
  });
});
