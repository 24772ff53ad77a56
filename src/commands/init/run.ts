import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { CliIo } from '../../io.js';
import type { ColumnsSpec, ConfigFile } from '../../config/config-file.js';
import { defaultConfigFiles, resolveConfig, type GlobalFlags, type ResolvedConfig } from '../../config/resolve-config.js';
import { loadConfigFile } from '../../config/config-file.js';
import { describeAddress, maskUrl } from '../../config/connection-url.js';
import type { Db } from '../../db/connect.js';
import { withConfiguredDatabase } from '../../db/session.js';
import { withReadOnly } from '../../db/read-only.js';
import { resolveMapping } from '../../db/mapping.js';
import { formatTableName, parseTableName } from '../../db/identifiers.js';
import { RuntimeError, UsageError } from '../../errors.js';
import type { AuditEntry } from '../../domain.js';
import { listReadableTables, sampleRows, serverTimeZone } from '../../queries/init.js';
import { fetchPage } from '../../queries/list.js';
import { NO_FILTERS } from '../../queries/filters.js';
import { createSecretPolicy, maskEntry } from '../../secrets/policy.js';
import { toCanonicalEntry } from '../../output/canonical.js';
import { maskInvalidStates } from '../../output/invalid-states.js';
import { confirm, isInteractive } from '../../output/prompt.js';
import { renderInitReport, renderConfigYaml, type InitReport } from '../../output/init.js';
import { scoreTable, type Candidate } from './score.js';

export interface InitOptions {
  schemas?: string[];
  yes: boolean;
  json: boolean;
}

/** Candidates shown; the best one is proposed. */
const SHOWN = 3;
/** Rows looked at to settle shapes (epochs, combined resources, JSON states); tables are never scanned. */
const SAMPLE_ROWS = 20;

/**
 * Finds the audit table among the tables the role can read, proposes a mapping, shows 3 entries read through it,
 * and writes the config file when the user accepts (or with --yes). Reads only, in READ ONLY transactions.
 */
export async function runInit(options: InitOptions, global: GlobalFlags, io: CliIo): Promise<void> {
  const path = configTarget(global, io);
  // The demo's table is not the user's: its mapping goes to a file only when one is named for it.
  const demoOnly = global.demo === true && global.config === undefined && !io.env.API7_AUDIT_CONFIG;
  if (demoOnly && options.yes) {
    throw new UsageError(`--demo with --yes would write the demo database's mapping to your config file ${path}; give --config FILE to write it elsewhere, or leave out --yes to only look`);
  }
  const existing = existsSync(path) ? await loadConfigFile(path) : undefined;
  const config = await resolveInitConfig(global, io, existing !== undefined);
  const report = await withConfiguredDatabase(config, (db) => findAuditTable(db, options, config, global.table !== undefined), { activity: 'init' });
  const file = proposedFile(existing, report.proposal);
  const { default: yaml } = await import('yaml');
  const yamlText = renderConfigYaml(file, yaml);
  const full: InitReport = { ...report, config: path, written: false };
  // The report comes first: the question is about what it shows.
  // Shown with the database URL's password masked (the file keeps it): stdout may be a terminal log or a ticket.
  if (!options.json) io.stdout.write(renderInitReport(full, renderConfigYaml(withMaskedUrl(file), yaml)));
  const wanted = options.yes || (!demoOnly && !options.json && isInteractive(io) && (await confirm(io, `Write this mapping to ${path}?`, 'nothing was written')));
  if (wanted) {
    await writeConfig(path, yamlText);
    full.written = true;
  }
  if (options.json) io.stdout.write(`${JSON.stringify(full, null, 2)}\n`);
  else if (!wanted) io.stderr.write(`not written: ${demoOnly ? 'the demo database\'s mapping (give --config FILE to write it)' : isInteractive(io) ? 'declined' : 'no terminal to ask; pass --yes'} (${path})\n`);
  else io.stderr.write(`wrote ${path}; next: ${nextStep(global, config, file)}\n`);
}

/**
 * The doctor run that reads what was written. The file keeps no URL given with --db (init writes the mapping only),
 * so the step carries it too, its password masked: the one on argv stays the user's to type again.
 */
function nextStep(global: GlobalFlags, config: ResolvedConfig, file: ConfigFile): string {
  const words = ['api7-audit'];
  if (global.config !== undefined) words.push('--config', shellWord(global.config));
  const url = config.connection?.source === '--db' ? config.connection.url : undefined;
  if (url !== undefined && url !== file.database?.url) words.push('--db', shellWord(maskUrl(url)));
  words.push('doctor');
  return words.join(' ');
}

/** A word a shell reads back as it is: single-quoted unless it is plainly safe. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Where the config goes: --config FILE, else API7_AUDIT_CONFIG, else the per-user default location. */
function configTarget(global: GlobalFlags, io: CliIo): string {
  if (global.config !== undefined) return resolve(io.cwd, global.config);
  if (io.env.API7_AUDIT_CONFIG) return resolve(io.cwd, io.env.API7_AUDIT_CONFIG);
  return defaultConfigFiles(io.env)[0] as string;
}

/** The connection settings; a config file that does not exist yet is the one init is about to write, not an error. */
async function resolveInitConfig(global: GlobalFlags, io: CliIo, targetExists: boolean): Promise<ResolvedConfig> {
  const flags = targetExists ? global : { ...global, config: undefined };
  const env = targetExists ? io.env : { ...io.env, API7_AUDIT_CONFIG: undefined };
  const config = await resolveConfig(flags, env, io.cwd);
  for (const warning of config.warnings) io.stderr.write(`${warning}\n`);
  return config;
}

async function findAuditTable(db: Db, options: InitOptions, config: ResolvedConfig, tableGiven: boolean): Promise<Omit<InitReport, 'config' | 'written'>> {
  const only = tableGiven ? parseTableName(config.table) : undefined;
  const { tables, timeZone } = await withReadOnly(db, async (trx) => ({
    tables: await listReadableTables(trx, only?.schema ? [only.schema] : options.schemas),
    timeZone: await serverTimeZone(trx),
  }));
  const considered = only ? tables.filter((table) => table.name === only.name) : tables;
  if (considered.length === 0) {
    // Named with the database: connecting to `postgres` rather than the control plane's database is a first-hour mistake.
    const where = config.connection ? ` of ${describeAddress(config.connection)}` : '';
    throw new RuntimeError(`no table or view this role can read ${options.schemas ? `in schema ${options.schemas.join(', ')}` : 'on the search path'}${where}${only ? ` named ${formatTableName(only)}` : ''}: is it the database the control plane writes its audit log to? Else try --schema NAME`);
  }
  // Names and types rank every table; the best few are looked at row by row to settle their shapes.
  const first = considered.map((table) => scoreTable(table, { samples: [], timeZone, tables })).sort(byScore).slice(0, SHOWN + 2);
  const candidates: Candidate[] = [];
  for (const candidate of first) {
    const samples = await withReadOnly(db, (trx) => sampleRows(trx, candidate.table, SAMPLE_ROWS));
    candidates.push(scoreTable(candidate.table, { samples, timeZone, tables }));
  }
  candidates.sort(byScore);
  const policy = createSecretPolicy(config.secrets);
  for (const candidate of candidates.filter((c) => c.unusable === undefined)) {
    const table = formatTableName(candidate.table);
    const sample = await readThrough(db, table, candidate.columns).catch((error: unknown) => {
      if (error instanceof UsageError || error instanceof RuntimeError) {
        candidate.unusable = `the proposed mapping fails: ${error.message}`;
        return undefined;
      }
      throw error;
    });
    if (!sample) continue;
    return {
      candidates: candidates.slice(0, SHOWN).map(describe),
      proposal: { table, columns: candidate.columns },
      // A text state that is not JSON is masked by name first, as show and list mask it.
      sample: sample.map((entry) => maskEntry(maskInvalidStates(toCanonicalEntry(entry), policy), policy)),
      notes: candidate.notes,
    };
  }
  const reasons = candidates.slice(0, SHOWN).map((c) => `${formatTableName(c.table)}: ${c.unusable ?? 'no match'}`).join('; ');
  throw new RuntimeError(`no table looks like an audit log${reasons ? ` (${reasons})` : ''}; name it with --table and write columns: by hand (see examples/api7-audit.yaml)`);
}

const byScore = (a: Candidate, b: Candidate) => b.score - a.score || a.table.name.localeCompare(b.table.name);

function describe(candidate: Candidate) {
  return {
    table: formatTableName(candidate.table),
    kind: candidate.table.kind === 'v' || candidate.table.kind === 'm' ? 'view' : 'table',
    score: candidate.score,
    estimated_rows: candidate.table.estimatedRows < 0 ? null : candidate.table.estimatedRows,
    found: candidate.notes,
    ...(candidate.unusable === undefined ? {} : { unusable: candidate.unusable }),
  };
}

/** Three newest entries read through the proposed mapping: the same path list takes, so a bad proposal fails here. */
async function readThrough(db: Db, table: string, columns: ColumnsSpec): Promise<AuditEntry[]> {
  const mapping = await resolveMapping(db, table, columns);
  return withReadOnly(db, (trx) => fetchPage(trx, mapping, { filters: NO_FILTERS, order: 'desc' }, 3));
}

/** The file as shown: `database.url` with its password masked, as every message shows a URL. */
function withMaskedUrl(file: ConfigFile): ConfigFile {
  const url = file.database?.url;
  return url === undefined ? file : { ...file, database: { ...file.database, url: maskUrl(url) } };
}

/** The file to write: what was there (connection, secrets, retention) with the table and columns replaced. */
function proposedFile(existing: ConfigFile | undefined, proposal: { table: string; columns: ColumnsSpec }): ConfigFile {
  return { ...existing, table: proposal.table, columns: proposal.columns };
}

/** Written whole or not at all (a temporary file renamed over it), 0600 in a 0700 directory: it may hold a URL. */
async function writeConfig(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
  await rename(temporary, path);
}
