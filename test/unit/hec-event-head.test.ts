import { describe, expect, it } from 'vitest';
import { toByteString } from '../../src/byte-string.js';
import { EntryRecord } from '../../src/queries/export-record.js';
import { BodyBuilder } from '../../src/sinks/body.js';
import { eventMetadata, hecEventHead, writeEventHead } from '../../src/sinks/splunk-hec.js';
import { seededRandom } from '../support/random.js';

// HEC writes each event's head straight from the entry's text (writeEventHead); hecEventHead, which builds it from
// the record's decoded fields, is the reference: the bytes must be the same for every head, hostile ones included.
const VALUES = [null, '', 'alice', 'apikey:持续部署', '张伟@example.cn', 'a"b', 'back\\slash', 'tab\there', 'nul\u0000', '😀', 'line\u2028sep', '\ud800', 'x'.repeat(300), 'null', '"null"', ',"before":'];
const TIMESTAMPS = ['2026-11-25T18:54:49.014123Z', '2026-02-28T23:59:59.999999Z', '2024-02-29T00:00:00.000000Z', '2026-12-31T12:00:00.500000Z',
  '1969-12-31T23:59:59.999999Z', '1970-01-01T00:00:00.000000Z', '2038-01-19T03:14:08.000000Z', '9999-12-31T23:59:59.999999Z', '0099-01-01T00:00:00.000000Z',
  '0044-03-15T12:00:00.000000Z BC', '2026-11-25T18:54:49Z', 'not a time'];

describe('writeEventHead', () => {
  it('writes the bytes hecEventHead gives for 5,000 random heads (nulls, escapes, non-ASCII, odd times and ids)', () => {
    const random = seededRandom(17);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const metadata = eventMetadata(toByteString(',"host":"höst","source":"api7-audit","sourcetype":"api7:audit","index":"main"'));
    let fast = 0;
    for (let i = 0; i < 5000; i += 1) {
      const id = random() < 0.9 ? String(Math.floor(random() * 1e12)) : pick(VALUES);
      const entry = {
        id, timestamp: pick(TIMESTAMPS), operator: pick(VALUES), operation: pick(VALUES), resource_type: pick(VALUES), resource_id: pick(VALUES),
        resource_name: pick(VALUES), source_ip: pick(VALUES), source: pick(VALUES), before: { a: pick(VALUES) }, after: null,
      };
      // Mostly all four leading fields set, as real entries have them.
      if (random() < 0.5) Object.assign(entry, { operator: 'alice', operation: 'UPDATE', resource_type: 'route', resource_id: 'r-1' });
      const record = new EntryRecord(toByteString(JSON.stringify(entry)));
      const close = random() < 0.5;
      const body = new BodyBuilder(1);
      writeEventHead(body, record, metadata, close);
      const written = body.bytes().toString('latin1');
      const reference = `${close ? '}' : ''}${hecEventHead(new EntryRecord(record.jsonBytes), metadata.text)}`;
      expect(written, JSON.stringify(entry)).toBe(reference);
      if (typeof id === 'string' && /^\d+$/.test(id) && entry.timestamp.length === 27 && entry.timestamp >= '0100') fast += 1;
    }
    expect(fast).toBeGreaterThan(1000);
  });

  const head = { id: '7', timestamp: '2026-01-02T03:04:05.678901Z', operator: 'alice', operation: 'UPDATE', resource_type: 'ssl', resource_id: 'r', resource_name: 'n', source_ip: '10.0.0.1', source: 'dashboard' };
  const { resource_type: type, resource_name: name, timestamp, source_ip: ip, operation } = head;
  it.each([
    ['json_build_object spacing', `{${Object.entries({ ...head, before: null, after: null }).map(([k, v]) => `${JSON.stringify(k)} : ${JSON.stringify(v)}`).join(', ')}}`],
    ['pretty-printed', JSON.stringify({ ...head, before: null, after: null }, null, 2)],
    ['resource_type and resource_name swapped in place (same length, same first and last letters)', JSON.stringify({ id: '7', timestamp, operator: 'alice', operation, resource_name: name, resource_id: 'r', resource_type: type, source_ip: ip, source: 'dashboard', before: null })],
    ['timestamp, operation and source_ip (all 13 characters) in each other\'s places', JSON.stringify({ id: '7', operation, operator: 'alice', source_ip: ip, resource_type: type, resource_id: 'r', resource_name: name, timestamp, source: 'dashboard', before: null })],
    ['source_ip renamed source_id in its place', JSON.stringify({ ...head, before: null }).replace('"source_ip"', '"source_id"')],
  ])('falls back to the parsed fields for a head in another form: %s', (_, text) => {
    const record = new EntryRecord(toByteString(text));
    const metadata = eventMetadata(',"host":"h"');
    const body = new BodyBuilder(1);
    writeEventHead(body, record, metadata, false);
    expect(body.bytes().toString('latin1')).toBe(hecEventHead(new EntryRecord(record.jsonBytes), metadata.text));
  });
});
