import { describe, expect, it } from 'vitest';
import { defaultMapping } from '../support/compile-only.js';
import { checkCursor, decodeCursor, encodeCursor } from '../../src/queries/cursor.js';
import { NO_FILTERS } from '../../src/queries/filters.js';
import { UsageError } from '../../src/errors.js';

const position = { timestamp: '2026-11-25T18:54:49.014123Z', id: '42' };
const made = { order: 'desc' as const, filters: { ...NO_FILTERS, operators: ['alice', 'bob'], sources: ['api'] }, mapping: defaultMapping };

describe('cursors carry what they were made for', () => {
  it('the same listing, its filters spelled another way, continues', () => {
    const cursor = decodeCursor(encodeCursor(position, made));
    expect(cursor).toMatchObject(position);
    expect(() => checkCursor(defaultMapping, cursor, { order: 'desc', filters: { ...NO_FILTERS, operators: ['bob', 'alice'], sources: ['API'] } })).not.toThrow();
  });

  it('another order, filter or table is a usage error naming each difference', () => {
    const cursor = decodeCursor(encodeCursor(position, made));
    const other = { ...defaultMapping, table: { schema: 'public', name: 'other_audit' } };
    const check = () => checkCursor(other, cursor, { order: 'asc', filters: { ...NO_FILTERS, operators: ['alice'], operations: ['delete'] } });
    expect(check).toThrow(UsageError);
    expect(check).toThrow(/--order \(made for desc, given asc\); the table \(made for (public\.)?audit_logs, given (public\.)?other_audit\); --operation \(not given then\); --operator \(other values\); --source \(given then, not now\)/);
  });

  it('a cursor of an older version (a bare position) is still read', () => {
    const cursor = decodeCursor(encodeCursor(position));
    expect(cursor).toEqual(position);
    expect(() => checkCursor(defaultMapping, cursor, { order: 'asc', filters: NO_FILTERS })).not.toThrow();
  });

  it('a stamp edited into nonsense is refused as invalid', () => {
    const forged = Buffer.from(JSON.stringify({ p: ['x', '1'], o: 'desc', t: 't', f: {} })).toString('base64url');
    expect(() => decodeCursor(forged)).toThrow("invalid --cursor");
  });
});
