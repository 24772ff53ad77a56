import { toByteString } from '../../src/byte-string.js';
import type { ExportRecord } from '../../src/domain.js';

const BASE_MS = Date.UTC(2026, 10, 25, 18, 54, 49);

/** A synthetic audit entry; `padTo` grows the `after` document to roughly that many bytes of JSON. */
export function makeRecord(i: number, padTo = 400): ExportRecord {
  const id = String(1000 + i);
  const timeMs = BASE_MS + i;
  const micros = String((i % 1000) * 1000 + 123).padStart(6, '0');
  const timestamp = `${new Date(timeMs).toISOString().slice(0, 19)}.${micros}Z`;
  const fields = {
    operator: i % 7 === 0 ? null : `user-${i % 13}`,
    operation: ['create', 'update', 'delete'][i % 3] ?? 'update',
    resource_type: 'route',
    resource_id: `r-${i}`,
    source_ip: '10.0.0.1',
    source: 'dashboard',
  };
  const head = {
    id,
    timestamp,
    ...fields,
    resource_name: `route "${i}" ünïcode`,
    before: null,
  };
  const base = JSON.stringify({ ...head, after: { uri: `/r/${i}`, plugins: { 'key-auth': { key: '***' } }, pad: '' } });
  const pad = 'x'.repeat(Math.max(0, padTo - base.length));
  const json = JSON.stringify({ ...head, after: { uri: `/r/${i}`, plugins: { 'key-auth': { key: '***' } }, pad } });
  const fieldsJson = Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, toByteString(JSON.stringify(value))])) as ExportRecord['fieldsJson'];
  return { id, timestamp, timeMs, jsonBytes: toByteString(json), json, fields, fieldsJson };
}

export function makeRecords(count: number, padTo?: number): ExportRecord[] {
  return Array.from({ length: count }, (_, i) => makeRecord(i, padTo));
}

/** Yields `records` asynchronously, like a database cursor would. */
export async function* streamOf(records: Iterable<ExportRecord>): AsyncGenerator<ExportRecord> {
  for (const record of records) yield record;
}
