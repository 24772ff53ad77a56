import { describe, expect, it } from 'vitest';
import { BEFORE_EVERYTHING, decideExportBound } from '../../src/delivery/export-bound.js';
import { describeFilters, runCoverage } from '../../src/delivery/coverage.js';
import { compareInstants, normalizeInstant } from '../../src/config/instant.js';
import { UsageError } from '../../src/errors.js';
import { NO_FILTERS } from '../../src/queries/filters.js';
import type { OpenTransactions } from '../../src/queries/export.js';

const facts = (over: Partial<OpenTransactions> = {}): OpenTransactions => ({
  settleBound: '2026-12-03T10:00:00.000000Z',
  hidden: 0,
  role: 'exporter',
  inRecovery: false,
  prepared: [],
  ...over,
});
/** A transaction open since `since`, with a settle window of `settle` seconds (holdsFrom as the server computes it). */
const holder = (since: string, settle = 5) => ({
  pid: 42, user: 'api7', application: 'dashboard', state: 'idle in transaction', since,
  holdsFrom: new Date(Date.parse(since) - settle * 1000).toISOString().replace(/\.(\d{3})Z$/, (_, ms: string) => `.${ms}${since.slice(23, 26)}Z`),
});

describe('decideExportBound', () => {
  it('is the settle bound when no transaction is open, guarded by the open transactions', () => {
    expect(decideExportBound(facts(), undefined, true)).toEqual({ before: '2026-12-03T10:00:00.000000Z', guard: 'open-transactions', messages: [] });
  });

  it('is the start of the oldest open transaction minus the settle window when earlier, naming it only when it holds back a minute or more', () => {
    const recent = decideExportBound(facts({ oldest: holder('2026-12-03T09:59:30.000001Z') }), undefined, true);
    expect(recent).toEqual({ before: '2026-12-03T09:59:25.000001Z', guard: 'open-transactions', messages: [] });
    const old = decideExportBound(facts({ oldest: holder('2026-12-03T09:40:00.000000Z') }), undefined, true);
    expect(old.before).toBe('2026-12-03T09:39:55.000000Z');
    expect(old.messages).toEqual([
      "note: entries from 2026-12-03T09:39:55.000000Z on wait for the next run: a transaction open since 2026-12-03T09:40:00.000000Z may still commit some (pid 42, user api7, application 'dashboard', idle in transaction)",
    ]);
    // A transaction that started after the settle bound's own instant (now minus settle) holds it back by what is
    // left of its window: an entry it commits may be stamped up to --settle before its start.
    expect(decideExportBound(facts({ oldest: holder('2026-12-03T10:00:01.000000Z') }), undefined, true).before).toBe('2026-12-03T09:59:56.000000Z');
    expect(decideExportBound(facts({ oldest: holder('2026-12-03T10:00:06.000000Z') }), undefined, true).before).toBe('2026-12-03T10:00:00.000000Z');
  });

  it('falls back to the settle window, with the GRANT, when other sessions are hidden; on a standby too', () => {
    const hidden = decideExportBound(facts({ hidden: 3, role: 'Audit Reader', oldest: holder('2026-12-03T09:00:00.000000Z') }), undefined, true);
    expect(hidden.guard).toBe('settle');
    expect(hidden.before).toBe('2026-12-03T08:59:55.000000Z');
    expect(hidden.messages).toHaveLength(2);
    expect(hidden.messages[0]).toContain('fix: GRANT pg_read_all_stats TO "Audit Reader"');
    const standby = decideExportBound(facts({ inRecovery: true }), undefined, true);
    expect(standby.guard).toBe('settle');
    expect(standby.messages[0]).toContain('standby');
  });

  it('sends nothing past the checkpoint while a prepared transaction exists, naming its gid', () => {
    const prepared = [{ gid: 'cp-42', owner: 'api7', prepared: '2026-12-03T09:00:00.000000Z' }];
    const after = { timestamp: '2026-12-02T00:00:00.000000Z', id: '7' };
    const held = decideExportBound(facts({ prepared }), after, true);
    expect(held.before).toBe(after.timestamp);
    expect(held.messages[0]).toContain("prepared transaction 'cp-42'");
    expect(decideExportBound(facts({ prepared }), undefined, true).before).toBe(BEFORE_EVERYTHING);
    // Without a checkpoint nothing can be skipped for ever: the run only warns.
    const once = decideExportBound(facts({ prepared }), undefined, false);
    expect(once.before).toBe('2026-12-03T10:00:00.000000Z');
    expect(once.messages[0]).toContain('not in this export');
  });
});

describe('checkpoint coverage', () => {
  it('describes filters in a normalized form, order and case of repeated values aside', () => {
    const a = describeFilters({ ...NO_FILTERS, operators: ['bob', 'alice'], operations: ['UPDATE'], since: { kind: 'relative', interval: '30 days' } });
    const b = describeFilters({ ...NO_FILTERS, operators: ['alice', 'bob', 'bob'], operations: ['update'], since: { kind: 'relative', interval: '30 days' } });
    expect(a).toEqual(b);
    expect(a).toEqual({ '--since': '30 days ago', '--operator': ['alice', 'bob'], '--operation': ['update'] });
  });

  it('keeps the weakest guard a checkpoint ever had', () => {
    const previous = (guard: 'open-transactions' | 'settle' | 'unknown') => ({
      version: 2 as const, position: { timestamp: '2026-01-01T00:00:00.000000Z', id: '1' }, coverage: { destination: 'file', filters: {}, guard },
    });
    expect(runCoverage('c.json', undefined, NO_FILTERS, 'file', 'open-transactions').guard).toBe('open-transactions');
    expect(runCoverage('c.json', previous('settle'), NO_FILTERS, 'file', 'open-transactions').guard).toBe('settle');
    expect(runCoverage('c.json', previous('open-transactions'), NO_FILTERS, 'file', 'settle').guard).toBe('settle');
    const v1 = { version: 1 as const, position: { timestamp: '2026-01-01T00:00:00.000000Z', id: '1' } };
    expect(runCoverage('c.json', v1, NO_FILTERS, 'file', 'open-transactions').guard).toBe('unknown');
    expect(() => runCoverage('c.json', previous('settle'), { ...NO_FILTERS, ips: ['10.0.0.0/8'] }, 'file', 'settle')).toThrow(UsageError);
  });
});

describe('instants', () => {
  it('compares instants, not text', () => {
    expect(compareInstants('2026-10-04T20:39:00+14:00', '2026-10-04T07:00:00.000000Z')).toBeLessThan(0);
    expect(compareInstants('2026-10-04T06:39:00.000001Z', '2026-10-04T20:39:00+14:00')).toBeGreaterThan(0);
    expect(compareInstants('2026-10-04T06:39:00Z', '2026-10-04T20:39:00.000000+14:00')).toBe(0);
  });

  it('normalizes to UTC with microseconds, refusing what cannot be represented exactly', () => {
    expect(normalizeInstant('0099-01-01T00:00:00Z')).toBe('0099-01-01T00:00:00.000000Z');
    expect(normalizeInstant('2026-12-31T23:30:00-01:00')).toBe('2027-01-01T00:30:00.000000Z');
    // Out of year 1 by an offset: 1 BC, year 0000 (as entries print it: config/instant.ts).
    expect(normalizeInstant('0001-01-01T00:00:00+01:00')).toBe('0000-12-31T23:00:00.000000Z');
    for (const bad of ['2026-10-04T20:39:00.0000001Z', '2026-10-04T24:00:00Z', '2026-13-01T00:00:00Z', '2026-10-04 20:39:00Z', '-004713-01-01T00:00:00Z']) {
      expect(normalizeInstant(bad), bad).toBeUndefined();
    }
  });
});
