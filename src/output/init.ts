import type { ColumnsSpec, ConfigFile } from '../config/config-file.js';
import type { AuditEntry } from '../domain.js';

/** What init found and did: data for --json, and what the text report shows. */
export interface InitReport {
  candidates: { table: string; kind: string; score: number; estimated_rows: number | null; found: string[]; unusable?: string }[];
  proposal: { table: string; columns: ColumnsSpec };
  /** The three newest entries read through the proposal, secrets masked. */
  sample: AuditEntry[];
  notes: string[];
  config: string;
  written: boolean;
}

/** The `yaml` package's writer (loaded on demand by the caller, as the reader is: it is slow to load). */
export interface YamlWriter {
  stringify(value: unknown, options?: object): string;
}

const HEADER = `# Written by api7-audit init. Columns map canonical fields to a column name, an SQL expression over the
# table's columns (checked by PostgreSQL at start-up, read-only), or for the timestamp { column, epoch | time_zone }.
`;

/** The config file's text. */
export function renderConfigYaml(file: ConfigFile, yaml: YamlWriter): string {
  return HEADER + yaml.stringify(file, { lineWidth: 0 });
}

/** The candidates, three entries read through the proposal, and the YAML to be written. */
export function renderInitReport(report: InitReport, yamlText: string): string {
  const lines: string[] = ['Candidate audit tables (best first):'];
  report.candidates.forEach((candidate, index) => {
    const rows = candidate.estimated_rows === null ? '' : `, ~${Math.round(candidate.estimated_rows).toLocaleString('en-US')} rows`;
    lines.push(`  ${index + 1}. ${candidate.table} (${candidate.kind}, score ${candidate.score}${rows})${candidate.unusable ? `: ${candidate.unusable}` : ''}`);
  });
  lines.push('', `Proposed: ${report.proposal.table}`);
  for (const note of report.notes) lines.push(`  ${note}`);
  lines.push('', `The newest ${report.sample.length} entries read through it:`);
  for (const entry of report.sample) {
    const resource = [entry.resource_type, entry.resource_id].filter((part) => part !== null).join(':');
    lines.push(`  ${[entry.id, entry.timestamp, entry.operator ?? '-', entry.operation ?? '-', resource || '-', entry.source_ip ?? ''].join('  ').trimEnd()}`);
  }
  lines.push('', `Config file ${report.config}:`, ...yamlText.trimEnd().split('\n').map((line) => `  ${line}`), '');
  return `${lines.join('\n')}\n`;
}
