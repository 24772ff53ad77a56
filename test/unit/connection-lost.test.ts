import { describe, expect, it } from 'vitest';
import { describeAddress, type ConnectionTarget } from '../../src/config/connection-url.js';
import { isConnectionLost, translateConnectionError } from '../../src/db/connect.js';
import { ConnectionLostError, RuntimeError } from '../../src/errors.js';
import { formatPruneSummary, pruneSummaryJson } from '../../src/output/prune-summary.js';
import type { PruneSummary } from '../../src/domain.js';

const url = (value: string): ConnectionTarget => ({ url: value, libpq: {}, source: '--db' });
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('describeAddress', () => {
  it('is HOST:PORT/DB from a URL, never the password, with what pg fills in for the parts left out', () => {
    expect(describeAddress(url('postgres://auditor:s3cret@db.internal:6432/audit?sslmode=require'))).toBe('db.internal:6432/audit');
    expect(describeAddress(url('postgresql://auditor:s3cret@10.0.0.5/audit'))).toBe('10.0.0.5:5432/audit');
    expect(describeAddress(url('postgres://auditor@[::1]:5433/a%20b'))).toBe('[::1]:5433/a b');
    expect(describeAddress(url('postgres://auditor@%2Fvar%2Frun%2Fpostgresql/audit'))).toBe('/var/run/postgresql:5432/audit');
    expect(describeAddress(url('postgres://auditor:pw@/audit'))).toBe('postgres://auditor:***@/audit');
    expect(describeAddress(url('postgres://auditor@h'))).toBe('h:5432/auditor');
  });
  it('is HOST:PORT/DB from the PG* variables', () => {
    expect(describeAddress({ libpq: { host: 'pg', port: 6543, user: 'u', password: 'pw', database: 'logs' }, source: 'PG* variables' })).toBe('pg:6543/logs');
    expect(describeAddress({ libpq: { user: 'u', password: 'pw' }, source: 'PG* variables' })).toBe('localhost:5432/u');
  });
});

describe('a connection lost mid-run', () => {
  const target = url('postgres://u:pw@127.0.0.1:5432/d');
  const terminated = withCode('terminating connection due to administrator command', '57P01');

  it('is one runtime error naming the server and the command, with the reason the server gave', () => {
    const error = translateConnectionError(terminated, target, { activity: 'prune' });
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toBe('lost the connection to PostgreSQL at 127.0.0.1:5432/d during prune: terminating connection due to administrator command');
  });

  it("takes the recorded reason when pg's own error only says the connection is gone", () => {
    const gone = new Error('Client has encountered a connection error and is not queryable');
    const error = translateConnectionError(gone, target, { activity: 'list', lost: terminated });
    expect((error as Error).message).toBe('lost the connection to PostgreSQL at 127.0.0.1:5432/d during list: terminating connection due to administrator command');
    const unexpected = translateConnectionError(new Error('Connection terminated unexpectedly'), target, { activity: 'export' });
    expect((unexpected as Error).message).toBe('lost the connection to PostgreSQL at 127.0.0.1:5432/d during export: Connection terminated unexpectedly');
  });

  it('tells a reset of an open connection from a failure to connect', () => {
    const reset = withCode('read ECONNRESET', 'ECONNRESET');
    expect(isConnectionLost(reset, undefined)).toBe(false);
    expect(isConnectionLost(reset, new Error('Connection terminated unexpectedly'))).toBe(true);
    expect((translateConnectionError(reset, target) as Error).message).toMatch(/^cannot connect to PostgreSQL at /);
    expect(isConnectionLost(withCode('the database system is starting up', '57P03'), undefined)).toBe(false);
    expect(isConnectionLost(withCode('syntax error', '42601'), terminated)).toBe(false);
    expect(isConnectionLost(new Error('Connection terminated'), undefined)).toBe(false);
  });
});

describe('the prune summary of a run that lost its connection', () => {
  const summary: PruneSummary = {
    table: 'public.audit_logs',
    dryRun: false,
    cutoff: '2026-10-01T00:00:00.000000Z',
    retentionDays: 60,
    retentionSource: 'flag',
    matched: 5000,
    deleted: 1200,
    batches: 12,
    partitions: [],
    partitionsDropped: [],
    partitionsDetached: [],
    durationMs: 800,
    slowestBatchMs: 30,
    stopped: 'connection-lost',
  };
  it('is not complete, says why, and keeps the counts', () => {
    expect(pruneSummaryJson(summary)).toMatchObject({ complete: false, stopped: 'connection-lost', deleted: 1200, matched: 5000 });
    expect(formatPruneSummary(summary)).toContain('Lost the connection to PostgreSQL');
    expect(pruneSummaryJson({ ...summary, stopped: 'entries-remain' })).toMatchObject({ complete: false, stopped: 'entries-remain' });
  });
});
