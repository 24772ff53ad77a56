import type { AuditEntry } from '../../domain.js';
import type { CliIo } from '../../io.js';
import { InterruptedError, RuntimeError, UsageError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/resolve-config.js';
import { withAuditTable, type AuditTable } from '../../db/session.js';
import { withReadOnly } from '../../db/read-only.js';
import type { OpenPool } from '../../db/pool.js';
import { formatTableName } from '../../db/identifiers.js';
import type { ResolvedMapping } from '../../db/mapping.js';
import { findEntry } from '../../queries/show.js';
import { idProblem } from '../../queries/id-check.js';
import { createSecretPolicy, maskEntry } from '../../secrets/policy.js';
import { maskInvalidStates } from '../../output/invalid-states.js';
import { createColors, shouldUseColor } from '../../output/colors.js';
import { renderShow, showJson } from '../../output/show.js';
import { findFingerprintChanges, hiddenSecretChanges, type FingerprintChange } from '../../output/secret-changes.js';
import type { Change } from '../../output/changes.js';
import { writeJson } from '../../output/stable-json.js';

export interface ShowOptions {
  id: string;
  output: 'text' | 'json';
  showSecrets: boolean;
}

export interface ShownEntry {
  /** The entry, secrets masked unless --show-secrets. */
  entry: AuditEntry;
  /** Secrets that changed, which masking would otherwise hide from the diff. */
  hiddenChanges: Change[];
  /** With fingerprints, for the text: the secrets whose fingerprints changed. */
  fingerprintChanges?: FingerprintChange[];
}

/**
 * Finds one entry by id (secrets masked unless asked otherwise). An unknown id is a runtime error, exit 1. Between
 * steps, each linear in the entry's size, `checkpoint` may stop the run (a SIGINT).
 */
export async function showEntry(
  table: AuditTable,
  options: ShowOptions,
  secretsConfig: ResolvedConfig['secrets'],
  checkpoint: () => Promise<void> = async () => {},
): Promise<ShownEntry> {
  validateId(table.mapping, options.id);
  const raw = await findEntry(table.db, table.mapping, options.id);
  if (!raw) throw new RuntimeError(`no audit entry with id '${options.id}' in ${formatTableName(table.mapping.table)}`);
  if (options.showSecrets) return { entry: raw, hiddenChanges: [] };
  await checkpoint();
  const policy = createSecretPolicy(secretsConfig);
  const entry = maskEntry(maskInvalidStates(raw, policy), policy);
  await checkpoint();
  const hiddenChanges = hiddenSecretChanges(raw, entry);
  if (secretsConfig.fingerprintKey === undefined || options.output !== 'text') return { entry, hiddenChanges };
  await checkpoint();
  return { entry, hiddenChanges, fingerprintChanges: findFingerprintChanges(entry) };
}

export function formatShow({ entry, hiddenChanges, fingerprintChanges }: ShownEntry, options: ShowOptions, io: CliIo): string {
  // writeJson, not JSON.stringify: a state nested 5,000 levels deep overflows the stack of the latter.
  if (options.output === 'json') return `${writeJson(showJson(entry, hiddenChanges), { indent: 2 })}\n`;
  return `${renderShow(entry, { colors: createColors(shouldUseColor(io.stdoutIsTty, io.env)), hiddenChanges, fingerprintChanges })}\n`;
}

/** `api7-audit show ID` */
export async function runShow(options: ShowOptions, config: ResolvedConfig, io: CliIo, early?: Promise<OpenPool>): Promise<void> {
  const checkpoint = () => stopIfInterrupted(io.signal);
  const shown = await withAuditTable(
    config,
    (table) => withReadOnly(table.db, (db) => showEntry({ ...table, db }, options, config.secrets, checkpoint)),
    { early, activity: 'show' },
  );
  await checkpoint();
  const text = formatShow(shown, options, io);
  await checkpoint();
  io.stdout.write(text);
}

/** Lets a pending SIGINT or SIGTERM handler run, then stops the show if one came: nothing is printed. */
async function stopIfInterrupted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  await new Promise((resolve) => setImmediate(resolve));
  if (signal.aborted) throw new InterruptedError('show interrupted; nothing was printed');
}

/** Rejects ids that cannot exist in the id column's type, before PostgreSQL would fail the cast. */
function validateId(mapping: ResolvedMapping, id: string): void {
  const problem = idProblem(mapping, id);
  if (problem) throw new UsageError(`invalid id '${id}': ids in ${formatTableName(mapping.table)} are ${problem}`);
}
