import { describe, it, expect } from 'vitest';
import { checkQueryableName, formatTableName, parseTableName } from '../../src/db/identifiers.js';
import { UsageError } from '../../src/errors.js';

describe('parseTableName', () => {
  it('reads plain and psql-quoted names, a doubled quote being one', () => {
    expect(parseTableName('audit_logs')).toEqual({ name: 'audit_logs' });
    expect(parseTableName('cp.audit_events')).toEqual({ schema: 'cp', name: 'audit_events' });
    expect(parseTableName('"Audit Log-2"')).toEqual({ name: 'Audit Log-2' });
    expect(parseTableName('"my-schema"."say ""hi"""')).toEqual({ schema: 'my-schema', name: 'say "hi"' });
    expect(parseTableName('cp."Events"')).toEqual({ schema: 'cp', name: 'Events' });
  });

  it('refuses malformed names and names no query can hold, with one line naming the value', () => {
    const cases: [string, string][] = [
      ['my.schema.audit_logs', 'expected NAME or SCHEMA.NAME'],
      ['"unterminated', 'expected NAME or SCHEMA.NAME'],
      ['a."b"c', 'expected NAME or SCHEMA.NAME'],
      ['a.', '"" is not a PostgreSQL identifier'],
      ['bad-name', '"bad-name" is not a PostgreSQL identifier'],
      ['cp.bad-name', '"bad-name" is not a PostgreSQL identifier'],
      ['""', 'a quoted name holds 1 to 63 bytes'],
      [`"${'x'.repeat(64)}"`, 'a quoted name holds 1 to 63 bytes'],
      ['"my.schema".audit_logs', 'the schema name "my.schema" holds a dot'],
      ['cp."a.b"', 'the table name "a.b" holds a dot'],
      ['"x as y"', "holds ' as '"],
      ['" x"', 'a leading or trailing space'],
    ];
    for (const [value, message] of cases) {
      expect(() => parseTableName(value), value).toThrow(UsageError);
      expect(() => parseTableName(value), value).toThrow(message);
      expect(() => parseTableName(value), value).toThrow(`invalid table '${value}': `);
    }
  });

  it('refuses a resolved schema holding a dot, naming what was asked for', () => {
    expect(() => checkQueryableName({ schema: 'a.b', name: 'audit_logs' }, 'audit_logs')).toThrow(
      `cannot query table 'audit_logs': the schema name "a.b" holds a dot`,
    );
    expect(() => checkQueryableName({ schema: 'public', name: 'audit_logs' })).not.toThrow();
  });

  it('prints names as psql would take them back', () => {
    expect(formatTableName({ schema: 'cp', name: 'audit_logs' })).toBe('cp.audit_logs');
    expect(formatTableName({ schema: 'my-schema', name: 'say "hi"' })).toBe('"my-schema"."say ""hi"""');
    for (const name of ['"my-schema"."say ""hi"""', 'cp.audit_logs', '"Audit Log-2"']) expect(formatTableName(parseTableName(name))).toBe(name);
  });
});
