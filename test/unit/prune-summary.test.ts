import { describe, expect, it } from 'vitest';
import type { PruneSummary } from '../../src/domain.js';
import { formatPruneSummary, pruneSummaryJson } from '../../src/output/prune-summary.js';

const summary: PruneSummary = {
  table: 'public.audit_logs',
  dryRun: false,
  cutoff: '2026-01-01T00:00:00.123456Z',
  retentionDays: 60,
  retentionSource: 'cp-config',
  matched: 12_345,
  oldest: '2025-09-01T00:00:00.000000Z',
  newest: '2025-12-31T23:59:59.999999Z',
  deleted: 12_345,
  batches: 3,
  partitions: ['public.audit_logs_2025_09'],
  partitionsDropped: ['public.audit_logs_2025_09'],
  partitionsDetached: [],
  durationMs: 1500,
  slowestBatchMs: 42,
  archive: { path: '/backup/pruned.ndjson.gz', entries: 12_345 },
};

describe('prune summary', () => {
  it('is one JSON object with the documented keys', () => {
    expect(pruneSummaryJson(summary)).toEqual({
      table: 'public.audit_logs',
      dry_run: false,
      cutoff: '2026-01-01T00:00:00.123456Z',
      retention_days: 60,
      retention_source: 'cp-config',
      matched: 12_345,
      oldest: '2025-09-01T00:00:00.000000Z',
      newest: '2025-12-31T23:59:59.999999Z',
      deleted: 12_345,
      batches: 3,
      partitions_dropped: 1,
      partitions_detached: 0,
      partitions: ['public.audit_logs_2025_09'],
      duration_ms: 1500,
      slowest_batch_ms: 42,
      archive: '/backup/pruned.ndjson.gz',
      archived: 12_345,
      complete: true,
      stopped: null,
      only_exported: null,
    });
    expect(pruneSummaryJson({ ...summary, archive: undefined, stopped: 'max-duration' })).toMatchObject({ archive: null, archived: 0, complete: false, stopped: 'max-duration' });
  });

  it('prints the cutoff and what happened', () => {
    const text = formatPruneSummary(summary);
    expect(text).toContain('Cutoff: 2026-01-01T00:00:00.123456Z (60 days before now by the database clock; audit.retention_days in the control plane config)');
    expect(text).toContain('Deleted 12,345 of 12,345 entries before the cutoff from public.audit_logs in 3 batches (1.5 s, 8,230/s; slowest batch 42 ms).');
    expect(text).toContain('Dropped partitions: public.audit_logs_2025_09');
    expect(text).toContain('Archived 12,345 entries to /backup/pruned.ndjson.gz');
  });

  it('says what a dry run would do, and that an interrupted run can be resumed', () => {
    const dry = formatPruneSummary({ ...summary, dryRun: true, deleted: 0, batches: 0, partitionsDropped: [], archive: undefined });
    expect(dry).toContain('Dry run: nothing deleted. 12,345 entries in public.audit_logs would be deleted, oldest 2025-09-01T00:00:00.000000Z, newest 2025-12-31T23:59:59.999999Z.');
    expect(dry).toContain('to be dropped whole: public.audit_logs_2025_09');
    expect(formatPruneSummary({ ...summary, stopped: 'interrupted' })).toContain('run again to continue');
  });
});
