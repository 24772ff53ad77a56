import type { Colors } from './colors.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One line of the checklist: what was looked at, what was found, and for a warning or failure, what to do. */
export interface Check {
  group: 'configuration' | 'connection' | 'table' | 'privileges' | 'indexes' | 'retention' | 'export';
  name: string;
  status: CheckStatus;
  message: string;
  fix?: string;
  data?: Record<string, unknown>;
}

const GROUPS: Record<Check['group'], string> = {
  configuration: 'Configuration', connection: 'Connection', table: 'Table', privileges: 'Privileges', indexes: 'Indexes', retention: 'Retention', export: 'Export',
};

/** The checklist: a heading per group, one line per check (✓ ! ✗ -, or [ok] [warn] [FAIL] [skip]), the fix under it. */
export function renderDoctorReport(checks: Check[], { colors, unicode }: { colors: Colors; unicode: boolean }): string {
  const marks = unicode
    ? { ok: colors.green('✓'), warn: colors.yellow('!'), fail: colors.red('✗'), skip: colors.dim('-') }
    : { ok: colors.green('[ok]'), warn: colors.yellow('[warn]'), fail: colors.red('[FAIL]'), skip: colors.dim('[skip]') };
  const lines: string[] = [];
  let group: string | undefined;
  for (const check of checks) {
    if (check.group !== group) {
      if (group !== undefined) lines.push('');
      group = check.group;
      lines.push(colors.bold(GROUPS[check.group]));
    }
    lines.push(`  ${marks[check.status]} ${check.name}: ${check.message}`);
    if (check.fix) lines.push(`      fix: ${check.fix}`);
  }
  const failed = checks.filter((check) => check.status === 'fail').length;
  const warned = checks.filter((check) => check.status === 'warn').length;
  lines.push('', failed ? colors.red(`${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}`) : `no failures, ${warned} warning${warned === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}
