import { describe, expect, it } from 'vitest';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import { allOf, filterConditions, NO_FILTERS } from '../../src/queries/filters.js';
import { compileOnlyDb, defaultMapping } from '../support/compile-only.js';

// H40: the SQL --since/--until compile to, per timestamp shape: the raw column alone where it orders like the instant;
// elsewhere the instant exactly and a widened raw range; every bound a parameter.

const withTimestamp = (timestamp: Record<string, string>): ResolvedMapping => ({
  ...defaultMapping,
  columns: { ...defaultMapping.columns, timestamp: { name: 'ts', ...timestamp } as ResolvedMapping['columns']['timestamp'] },
});

const compile = (mapping: ResolvedMapping) => {
  const filters = { ...NO_FILTERS, since: { kind: 'absolute', iso: '2026-10-25T00:30:00Z' }, until: { kind: 'relative', interval: '5 minutes' } } as const;
  const compiled = compileOnlyDb.selectFrom('t').selectAll().where(allOf(filterConditions(mapping, filters))).compile();
  // A bound used three times is three parameters of the same value: numbers left out.
  return { sql: compiled.sql.replace(/\$\d+/g, '$'), parameters: compiled.parameters };
};

describe('--since/--until SQL by timestamp shape', () => {
  it('timestamptz and whole epochs: the raw column against the converted bound, nothing else', () => {
    expect(compile(withTimestamp({ type: 'timestamptz' })).sql).toContain(`"ts" >= cast($ as timestamptz) and "ts" < (now() - cast($ as interval))`);
    const seconds = compile(withTimestamp({ type: 'int8', epoch: 'seconds' })).sql;
    expect(seconds).toContain(`"ts" >= cast(ceil(extract(epoch from cast($ as timestamptz))) as bigint)`);
    expect(seconds).not.toContain('to_timestamp');
  });

  it('local time: the instant exactly, and the raw column within the zone offsets two weeks either side of the bound', () => {
    const { sql, parameters } = compile(withTimestamp({ type: 'timestamp', timeZone: 'Europe/Berlin' }));
    expect(sql).toContain(`("ts" at time zone 'Europe/Berlin') >= cast($ as timestamptz)`);
    // Earlier by a shift only where that stays after PostgreSQL's first instant (4714 BC Nov 24).
    const earlier = (hours: number) => `(case when cast($ as timestamptz) >= timestamptz '4714-12-08 00:00:00+00 BC' then cast($ as timestamptz) - interval '${hours} hours' else cast($ as timestamptz) end)`;
    expect(sql).toContain(`"ts" >= least(((cast($ as timestamptz)) at time zone 'Europe/Berlin'), ((${earlier(24)}) at time zone 'Europe/Berlin') + interval '24 hours', ((cast($ as timestamptz) + interval '24 hours') at time zone 'Europe/Berlin') - interval '24 hours', ((${earlier(336)}) at time zone 'Europe/Berlin') + interval '336 hours', ((cast($ as timestamptz) + interval '336 hours') at time zone 'Europe/Berlin') - interval '336 hours')`);
    expect(sql).toContain(`"ts" < greatest(`);
    expect(sql).toContain(`("ts" at time zone 'Europe/Berlin') < (now() - cast(`);
    expect(parameters.every((value) => value === '2026-10-25T00:30:00Z' || value === '5 minutes')).toBe(true);
  });

  it('float8 and numeric epochs: the instant exactly, and the raw column one unit beyond the bound', () => {
    const seconds = compile(withTimestamp({ type: 'float8', epoch: 'seconds' })).sql;
    expect(seconds).toContain(`("ts" >= (cast(extract(epoch from cast($ as timestamptz)) as double precision) - 1) and to_timestamp("ts") >= cast($ as timestamptz))`);
    const millis = compile(withTimestamp({ type: 'numeric', epoch: 'milliseconds' })).sql;
    expect(millis).toContain(`"ts" < (cast(extract(epoch from (now() - cast($ as interval))) * 1000 as numeric) + 1) and to_timestamp("ts" / 1000.0) < (now() - cast($ as interval))`);
  });
});
