import type { ResolvedConfig } from '../../config/resolve-config.js';
import type { EntryArchive } from '../../db/archive-first.js';
import type { ResolvedMapping } from '../../db/mapping.js';
import { createSecretPolicy, maskEntryJson } from '../../secrets/policy.js';
import { mayHoldInvalidStates, maskInvalidStatesInJson } from '../../output/invalid-states.js';

/** The archive as prune writes it without --show-secrets: each entry masked as in every other output. */
export function maskArchive(archive: EntryArchive, mapping: ResolvedMapping, secrets: ResolvedConfig['secrets']): EntryArchive {
  const policy = createSecretPolicy(secrets);
  // A text state that is not JSON is a string to maskEntryJson: its raw text is masked first, by name.
  const mask = mayHoldInvalidStates(mapping)
    ? (json: string) => maskEntryJson(maskInvalidStatesInJson(json, policy), policy)
    : (json: string) => maskEntryJson(json, policy);
  return { append: (lines) => archive.append(lines.map(mask)), mark: () => archive.mark(), cut: (mark) => archive.cut(mark) };
}
