import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain.js';
import { spawnCli } from '../support/cli.js';

// The README's first command: the main job on the embedded demo database, with no server configured at all. Each
// --demo run starts an embedded PGlite (about 4 s of CPU; far longer on a busy machine): hence the long timeouts.
const DEMO_TIMEOUT = 120_000;

describe('--demo', () => {
  it('lists recent entries from the embedded database, whatever the date', async () => {
    const result = await spawnCli(['--demo', 'list', '--since', '7d', '--json', '--limit', '500']);
    expect(result.code, result.stderr).toBe(0);
    const entries = JSON.parse(result.stdout) as AuditEntry[];
    expect(entries.length).toBeGreaterThanOrEqual(50);
    const oldest = Date.parse(entries.at(-1)?.timestamp ?? '');
    expect(Date.now() - oldest).toBeLessThan(7 * 86_400_000 + 60_000);
    expect(new Set(entries.map((e) => e.operator)).size).toBeGreaterThanOrEqual(4);
    // Secrets are masked in demo data too.
    expect(result.stdout).not.toMatch(/BEGIN (RSA )?PRIVATE KEY/);
  }, DEMO_TIMEOUT);

  it('shows one entry and exports to stdout', async () => {
    const shown = await spawnCli(['--demo', 'show', '42', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: '42', changes: expect.any(Array) });
    const exported = await spawnCli(['--demo', 'export', '--out', '-', '--since', '1d']);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(exported.stderr).toMatch(new RegExp(`exported ${lines.length} entries to stdout`));
  }, DEMO_TIMEOUT);
});
