import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import type { CliIo } from '../../io.js';
import type { GlobalFlags, ResolvedConfig } from '../../config/resolve-config.js';
import { isExpression, loadConfigFile, type ConfigFile } from '../../config/config-file.js';
import { readControlPlaneRetention } from '../../config/cp-config.js';
import type { Db } from '../../db/connect.js';
import { withConfiguredDatabase } from '../../db/session.js';
import { resolveMapping, type ResolvedMapping } from '../../db/mapping.js';
import { formatTableName, quoteIdentifier, quoteTableName } from '../../db/identifiers.js';
import { describeAddress, describeSource, isLoopbackTarget, maskUrl } from '../../config/connection-url.js';
import { findHolder, pruneLockName } from '../../db/advisory-lock.js';
import { CliError, RuntimeError } from '../../errors.js';
import { readCheckpoint } from '../../delivery/checkpoint.js';
import { idProblem } from '../../queries/id-check.js';
import { computeCutoff } from '../../queries/prune.js';
import { compareInstants } from '../../config/instant.js';
import { countAfter, estimateBefore, ping, readEnds, readServerFacts, readTableFacts } from '../../queries/doctor.js';
import { renderDoctorReport, type Check } from '../../output/doctor.js';
import { createColors, shouldUseColor } from '../../output/colors.js';
import { resolveRetention } from '../../config/retention.js';
import { clockCheck, describePartitioning, formatBytes, indexChecks } from './checks.js';

export interface DoctorOptions {
  json: boolean;
  retentionDays?: string;
  cpConfig?: string;
  checkpoint?: string;
}

/** Entries counted past a checkpoint before doctor says "more than"; an index range of this many is read at most. */
const COUNT_CAP = 100_000;
/** An export checkpoint further behind the newest entry than this is stale. */
const STALE_MS = 24 * 3600_000;

/**
 * Checks what the tool needs, cheaply (catalog reads, EXPLAIN without ANALYZE, planner estimates, index probes), and
 * prints one line per check. Exit 1 when a check failed, after the whole list is printed.
 */
export async function runDoctor(options: DoctorOptions, config: ResolvedConfig, global: GlobalFlags, io: CliIo): Promise<void> {
  const file: ConfigFile = config.configPath ? await loadConfigFile(config.configPath) : {};
  const retention = await resolveRetention(options, { cwd: io.cwd, configRetentionDays: config.retentionDays });
  const cpDays = options.cpConfig === undefined ? undefined : await readControlPlaneRetention(resolve(io.cwd, options.cpConfig));
  const checks: Check[] = configurationChecks(config, file, global, io.env, retention);
  await withConfiguredDatabase(config, async (db, connected) => {
    checks.push(...(await connectionChecks(db, connected)));
    const mapping = await mappingCheck(db, config, checks);
    if (!mapping) return;
    const cutoff = await computeCutoff(db, retention.days);
    checks.push(...(await tableChecks(db, mapping)));
    checks.push(...(await indexChecks(db, mapping, cutoff)));
    checks.push(...(await retentionChecks(db, mapping, retention.days, cutoff, cpDays)));
    checks.push(...(await exportChecks(db, mapping, options.checkpoint && resolve(io.cwd, options.checkpoint), cutoff)));
  }, { activity: 'doctor' }).catch((error: unknown) => {
    if (!(error instanceof CliError) || error.exitCode !== 1) throw error;
    checks.push({ group: 'connection', name: 'server', status: 'fail', message: error.message, fix: 'check the URL, the server and the network; see api7-audit --help for where the URL comes from' });
  });
  const failed = checks.filter((check) => check.status === 'fail').length;
  if (options.json) io.stdout.write(`${JSON.stringify({ ok: failed === 0, checks }, null, 2)}\n`);
  else io.stdout.write(renderDoctorReport(checks, { colors: createColors(shouldUseColor(io.stdoutIsTty, io.env)), unicode: unicodeOutput(io) }));
  if (failed > 0) throw new RuntimeError(`doctor: ${failed} check${failed === 1 ? '' : 's'} failed`);
}

/** ✓ ! ✗ on a terminal whose locale is UTF-8; [ok] [warn] [FAIL] otherwise (logs, cron mail, a C locale). */
function unicodeOutput(io: CliIo): boolean {
  const locale = io.env.LC_ALL || io.env.LC_CTYPE || io.env.LANG || '';
  return io.stdoutIsTty && /utf-?8/i.test(locale);
}

const ENV_NAMES = /^(API7_AUDIT_\w+|DATABASE_URL|PG(HOST|PORT|USER|PASSWORD|DATABASE|SSLMODE|SSLROOTCERT|SSLCERT|SSLKEY|PASSFILE|SERVICE))$/;

/** Where each setting came from, as `git config --show-origin` does; values that may hold secrets masked. */
function configurationChecks(config: ResolvedConfig, file: ConfigFile, global: GlobalFlags, env: NodeJS.ProcessEnv, retention: { days: number; source: string }): Check[] {
  const from = (flag: unknown, flagName: string, fileValue: unknown, fileKey: string) =>
    flag !== undefined ? flagName : fileValue !== undefined ? `${fileKey} in the config file` : 'default';
  const expressions = Object.values(file.columns ?? {}).filter((spec) => typeof spec === 'string' && isExpression(spec)).length;
  const converted = typeof file.columns?.timestamp === 'object' ? ', the timestamp converted' : '';
  const set = Object.keys(env).filter((name) => ENV_NAMES.test(name) && env[name] !== '').sort();
  const target = config.connection;
  const database = target ? `${target.url ? maskUrl(target.url) : describeAddress(target)} (from ${describeSource(target)})` : '--demo';
  const retentionFrom: Record<string, string> = { flag: '--retention-days', 'cp-config': "the control plane's conf.yaml (--cp-config)", config: 'retention_days in the config file', default: 'default' };
  const lines = [
    `config file: ${config.configPath ?? 'none'}${global.config !== undefined ? ' (--config)' : env.API7_AUDIT_CONFIG ? ' (API7_AUDIT_CONFIG)' : ''}`,
    `database: ${database}`,
    `table: ${config.table} (${from(global.table, '--table', file.table, 'table')})`,
    `columns: ${file.columns ? `${Object.keys(file.columns).length} mapped in the config file, ${expressions} as expressions${converted}` : 'default layout'}`,
    `retention: ${retention.days} days (${retentionFrom[retention.source] ?? retention.source})`,
    `connect timeout: ${config.connectTimeoutMs ? `${config.connectTimeoutMs / 1000} s` : 'none'} (${config.connectTimeoutSource})`,
    `secrets: ${config.secrets.mode}${config.secrets.keys.length ? ` + ${config.secrets.keys.length} keys from the config file` : ''}${config.secrets.fingerprintKey !== undefined ? ', fingerprints on' : ''}`,
    `environment: ${set.length ? set.join(', ') : 'none of API7_AUDIT_*, DATABASE_URL, PG*'}`,
  ];
  const checks: Check[] = lines.map((line) => {
    const colon = line.indexOf(': ');
    return { group: 'configuration', name: line.slice(0, colon), status: 'ok', message: line.slice(colon + 2) };
  });
  for (const warning of config.warnings) checks.push({ group: 'configuration', name: 'warning', status: 'warn', message: warning.replace(/^(warning|notice): /, '') });
  return checks;
}

async function connectionChecks(db: Db, config: ResolvedConfig): Promise<Check[]> {
  const started = performance.now();
  await ping(db);
  const connectMs = performance.now() - started;
  let rtt = Infinity;
  for (let i = 0; i < 3; i += 1) {
    const t0 = performance.now();
    await ping(db);
    rtt = Math.min(rtt, performance.now() - t0);
  }
  const before = Date.now();
  const facts = await readServerFacts(db);
  const after = Date.now();
  const tls = config.connection?.tls;
  const mode = tls ? tls.modeSource : 'sslmode unknown';
  const verified = tls?.mode === 'verify-full' || tls?.mode === 'verify-ca';
  const address = config.connection ? describeAddress(config.connection) : '';
  const tlsCheck: Check = config.connection?.source === 'demo'
    ? { group: 'connection', name: 'tls', status: 'skip', message: 'the embedded demo database, on 127.0.0.1' }
    : facts.ssl
    ? { group: 'connection', name: 'tls', status: verified ? 'ok' : 'warn', message: `TLS in use (${facts.sslVersion ?? 'TLS'}; ${mode})${verified ? '' : ": the server's certificate is not verified"}`, ...(verified ? {} : { fix: 'use sslmode=verify-full with sslrootcert=FILE (or PGSSLROOTCERT)' }) }
    : config.connection && isLoopbackTarget(config.connection)
    ? { group: 'connection', name: 'tls', status: 'ok', message: `TLS not in use (${mode}); the connection stays on this machine (${address}): nothing crosses a network` }
    : { group: 'connection', name: 'tls', status: 'warn', message: `TLS not in use (${mode})${tls?.mode === 'prefer' || tls?.mode === 'allow' ? ': the server offered none' : ''}; the password and the audit data cross the network in clear`, fix: 'turn ssl on in postgresql.conf and connect with sslmode=verify-full' };
  return [
    { group: 'connection', name: 'server', status: 'ok', message: `PostgreSQL ${facts.version} at ${address} as ${facts.role}; connected in ${connectMs.toFixed(0)} ms, round trip ${rtt.toFixed(1)} ms`, data: { version: facts.version, connect_ms: Math.round(connectMs), rtt_ms: Number(rtt.toFixed(2)) } },
    tlsCheck,
    clockCheck(facts.clockMs - (before + after) / 2, (after - before) / 2),
  ];
}

async function mappingCheck(db: Db, config: ResolvedConfig, checks: Check[]): Promise<ResolvedMapping | undefined> {
  try {
    const mapping = await resolveMapping(db, config.table, config.columns);
    const fields = Object.entries(mapping.columns).filter(([, column]) => column !== undefined);
    const expressions = fields.filter(([, column]) => column?.expression !== undefined).map(([field]) => field);
    const missing = Object.entries(mapping.columns).filter(([, column]) => column === undefined).map(([field]) => field);
    const ts = mapping.columns.timestamp;
    const tsNote = ts?.epoch ? ` (epoch ${ts.epoch})` : ts?.timeZone ? ` (local time in ${ts.timeZone})` : '';
    checks.push({ group: 'table', name: 'found', status: 'ok', message: `${formatTableName(mapping.table)}` });
    checks.push({
      group: 'table', name: 'mapping', status: 'ok',
      message: `${fields.length} fields read, types as expected; timestamp ${ts?.name}${tsNote}${expressions.length ? `; expressions: ${expressions.join(', ')}` : ''}${missing.length ? `; null: ${missing.join(', ')}` : ''}`,
    });
    return mapping;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    checks.push({ group: 'table', name: 'mapping', status: 'fail', message: error.message, fix: 'run api7-audit init, or fix table:/columns: in the config file' });
    return undefined;
  }
}

async function tableChecks(db: Db, mapping: ResolvedMapping): Promise<Check[]> {
  const facts = await readTableFacts(db, mapping);
  const name = formatTableName(mapping.table);
  const rows = facts.estimatedRows < 0 ? 'rows not yet estimated (never analyzed)' : `~${Math.round(facts.estimatedRows).toLocaleString('en-US')} entries (estimate)`;
  const holder = await findHolder(db, pruneLockName(name));
  const checks: Check[] = [
    { group: 'table', name: 'size', status: 'ok', message: `${rows}, ${formatBytes(facts.bytes)} on disk; ${describePartitioning(facts)}`, data: { estimated_rows: facts.estimatedRows, bytes: facts.bytes, partitions: facts.partitions } },
    facts.select
      ? { group: 'privileges', name: 'select', status: 'ok', message: 'list, show and export can read' }
      : { group: 'privileges', name: 'select', status: 'fail', message: `no SELECT on ${name}`, fix: `GRANT SELECT ON ${quoteTableName(mapping.table)} TO ${quoteIdentifier(facts.role)};` },
    facts.delete
      ? { group: 'privileges', name: 'delete', status: 'ok', message: 'prune can delete' }
      : { group: 'privileges', name: 'delete', status: 'warn', message: `no DELETE on ${name}: prune cannot run as this role`, fix: `GRANT DELETE ON ${quoteTableName(mapping.table)} TO ${quoteIdentifier(facts.role)};` },
  ];
  if (facts.partitionKey === null) checks.push({ group: 'privileges', name: 'owner', status: 'skip', message: 'not partitioned: prune deletes row by row' });
  else if (facts.owns) checks.push({ group: 'privileges', name: 'owner', status: 'ok', message: `owner (${facts.owner}): prune drops whole partitions` });
  else checks.push({ group: 'privileges', name: 'owner', status: 'warn', message: `not the owner (${facts.owner}): prune deletes old partitions row by row instead of dropping them`, fix: `run prune as ${facts.owner} (or a member of that role) to drop whole partitions; row by row is correct, only slower` });
  checks.push(holder?.pid
    ? { group: 'privileges', name: 'prune lock', status: 'warn', message: `prune's lock is held by pid ${holder.pid} (role ${holder.usename ?? '?'}, ${holder.application_name || 'no application name'}, since ${holder.since ?? '?'}): every prune exits 3 meanwhile`, fix: `if no prune runs: select pg_terminate_backend(${holder.pid});` }
    : { group: 'privileges', name: 'prune lock', status: 'ok', message: "prune's advisory lock is free (any role that can connect could take it: see the README, Prune)" });
  return checks;
}

async function retentionChecks(db: Db, mapping: ResolvedMapping, days: number, cutoff: string, cpDays: number | undefined): Promise<Check[]> {
  const { oldest, newest } = await readEnds(db, mapping);
  if (oldest === null) return [{ group: 'retention', name: 'oldest', status: 'ok', message: 'the table is empty' }];
  const checks: Check[] = [];
  // By instant: text compares wrongly for an expanded year (+012026-... sorts before 2026-...).
  if (compareInstants(oldest, cutoff) < 0) {
    const overdue = await estimateBefore(db, mapping, cutoff);
    checks.push({
      group: 'retention', name: 'overdue', status: 'warn',
      message: `oldest entry ${oldest} is older than the retention (${days} days, cutoff ${cutoff}): ~${overdue.toLocaleString('en-US')} entries overdue (estimate)`,
      fix: `api7-audit prune --retention-days ${days} --yes (nightly: examples/prune.crontab)`, data: { oldest, newest, cutoff, overdue_estimate: overdue },
    });
  } else {
    checks.push({ group: 'retention', name: 'overdue', status: 'ok', message: `oldest entry ${oldest} is within the retention (${days} days)`, data: { oldest, newest, cutoff } });
  }
  if (cpDays === undefined) {
    checks.push({ group: 'retention', name: 'control plane cleanup', status: 'skip', message: "give --cp-config FILE to check the control plane's own cleanup" });
  } else {
    // A day of grace: the control plane's job runs periodically, not continuously.
    const cpCutoff = await computeCutoff(db, cpDays + 1);
    checks.push(oldest < cpCutoff
      ? { group: 'retention', name: 'control plane cleanup', status: 'warn', message: `entries older than the control plane's audit.retention_days (${cpDays}) remain (oldest ${oldest}): its own cleanup seems not to run`, fix: 'check the control plane logs for its audit cleanup, or prune with api7-audit prune --cp-config FILE' }
      : { group: 'retention', name: 'control plane cleanup', status: 'ok', message: `nothing older than the control plane's audit.retention_days (${cpDays})` });
  }
  return checks;
}

async function exportChecks(db: Db, mapping: ResolvedMapping, path: string | undefined, cutoff: string): Promise<Check[]> {
  if (path === undefined) return [{ group: 'export', name: 'checkpoint', status: 'skip', message: 'give --checkpoint FILE to check an export' }];
  const checkpoint = await readCheckpoint(path).catch((error: unknown) => {
    if (error instanceof CliError) return error;
    throw error;
  });
  if (checkpoint instanceof CliError) return [{ group: 'export', name: 'checkpoint', status: 'fail', message: checkpoint.message }];
  if (!checkpoint) return [{ group: 'export', name: 'checkpoint', status: 'fail', message: `no checkpoint at ${path}: no export has run with it yet`, fix: `api7-audit export --checkpoint ${path} ...` }];
  const { position } = checkpoint;
  const problem = idProblem(mapping, position.id);
  if (problem) return [{ group: 'export', name: 'checkpoint', status: 'fail', message: `${path} holds id ${JSON.stringify(position.id)}, which cannot be in ${formatTableName(mapping.table)} (its ids are ${problem}): written for another table?` }];
  const behind = await countAfter(db, mapping, position, COUNT_CAP);
  const { newest } = await readEnds(db, mapping);
  const lagMs = newest === null || behind === 0 ? 0 : Math.max(0, Date.parse(newest) - Date.parse(position.timestamp));
  const count = behind >= COUNT_CAP ? `more than ${COUNT_CAP.toLocaleString('en-US')}` : behind.toLocaleString('en-US');
  const lag = `${count} entries (${formatDuration(lagMs)}) behind the newest`;
  const data = { position, behind, lag_ms: lagMs, filters: checkpoint.coverage?.filters ?? {} };
  const checks: Check[] = [lagMs > STALE_MS
    ? { group: 'export', name: 'checkpoint', status: 'warn', message: `${path} is stale: ${lag}`, fix: `run the export (api7-audit export --checkpoint ${path} ...) or check why its timer stopped`, data }
    : { group: 'export', name: 'checkpoint', status: 'ok', message: `${path}: ${lag}`, data }];
  const filtered = Object.keys(checkpoint.coverage?.filters ?? {}).length > 0;
  checks.push(filtered
    ? { group: 'export', name: 'only-exported', status: 'warn', message: 'its exports were filtered: prune --only-exported would delete entries the filters left out', fix: 'use the checkpoint of an export of every entry' }
    : compareInstants(position.timestamp, cutoff) < 0
      ? { group: 'export', name: 'only-exported', status: 'warn', message: `usable, but prune --only-exported stops at ${position.timestamp}, before the retention cutoff: entries past retention stay until the export catches up` }
      : { group: 'export', name: 'only-exported', status: 'ok', message: 'usable for prune --only-exported' });
  return checks;
}

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}
