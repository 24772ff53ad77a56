import type { AuditEntry } from '../entry.js';
import { diffChanges, type Change } from './changes.js';
import { SECRET_MASK } from './secrets.js';

/**
 * Changes that masking hides. A rotated password or key reads "******" on both sides once masked, so the diff of
 * the masked entry shows nothing, yet an auditor must see that the secret changed. These are the changes of the
 * raw entry that the masked one does not show, with their values masked.
 */
export function hiddenSecretChanges(raw: AuditEntry, masked: AuditEntry): Change[] {
  const visible = diffChanges(masked.before, masked.after).map((change) => change.path);
  const isVisible = (path: string) => visible.some((shown) => path === shown || path.startsWith(`${shown}.`) || path.startsWith(`${shown}[`));
  return diffChanges(raw.before, raw.after)
    .filter((change) => !isVisible(change.path))
    .map((change) => ({
      path: change.path,
      ...('before' in change ? { before: SECRET_MASK } : {}),
      ...('after' in change ? { after: SECRET_MASK } : {}),
    }));
}
