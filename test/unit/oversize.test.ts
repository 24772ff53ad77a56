import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toByteString } from '../../src/byte-string.js';
import { EntryRecord } from '../../src/queries/export-record.js';
import { KEEP_STATE_BYTES, ReducedRecord, reduceEntryBytes, valueEnd } from '../../src/sinks/oversize.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const marker = (text: string) => ({ $api7_audit: 'omitted', reason: 'too_large', bytes: Buffer.byteLength(text), sha256: sha256(text) });
const parse = (bytes: string) => JSON.parse(Buffer.from(bytes, 'latin1').toString('utf8')) as Record<string, unknown>;

/** An entry as the export writes it: compact, plain fields first, then the states' texts as given. */
function entry(before: string, after: string, operator = 'alice'): string {
  return toByteString(
    `{"id":"7","timestamp":"2026-01-02T03:04:05.000006Z","operator":${JSON.stringify(operator)},"operation":"update","resource_type":"route",` +
      `"resource_id":"r","resource_name":null,"source_ip":null,"source":null,"before":${before},"after":${after}}`,
  );
}

describe('reduced entries', () => {
  const big = `{"blob": "${'東'.repeat(KEEP_STATE_BYTES)}", "n": [1, 2, {"x": "}\\"]"}]}`;

  it('replace each state over the limit by its size and SHA-256, exactly as the text stood, and keep the rest', () => {
    const reduced = parse(reduceEntryBytes(entry('{"small": true}', big)));
    expect(reduced.before).toEqual({ small: true });
    expect(reduced.after).toEqual(marker(big));
    expect(reduced.operator).toBe('alice');
    expect(parse(reduceEntryBytes(entry(big, 'null'))).before).toEqual(marker(big));
  });

  it('are not fooled by plain fields or states that spell the keys', () => {
    const tricky = entry('{"a":1,"before":{"after":2}}', big, 'x,"before":{"after":"y');
    const reduced = parse(reduceEntryBytes(tricky));
    expect(reduced.operator).toBe('x,"before":{"after":"y');
    expect(reduced.before).toEqual({ a: 1, before: { after: 2 } });
    expect(reduced.after).toEqual(marker(big));
  });

  it('parse text in another spacing, and measure its states as JSON.stringify writes them', () => {
    const spaced = toByteString(`{"id" : "7", "operator" : "alice", "before" : null, "after" : ${big}}`);
    const reduced = parse(reduceEntryBytes(spaced));
    expect(reduced.after).toEqual(marker(JSON.stringify(JSON.parse(big))));
    expect(reduced.before).toBeNull();
  });

  it('keep the id, time and fields of the original record', () => {
    const record = new ReducedRecord(new EntryRecord(entry('null', big)));
    expect(record.id).toBe('7');
    expect(record.timestamp).toBe('2026-01-02T03:04:05.000006Z');
    expect(record.fields.operator).toBe('alice');
    expect(record.jsonBytes.length).toBeLessThan(600);
  });

  it('find where a JSON value ends', () => {
    const text = '{"a":"}\\"",b:[1,{"c":"]"}]},null';
    expect(valueEnd(text, 0)).toBe(text.indexOf(',null'));
    expect(valueEnd('null,1', 0)).toBe(4);
    expect(valueEnd('"a\\"b",', 0)).toBe(6);
    expect(valueEnd('{"a":', 0)).toBe(-1);
  });
});
