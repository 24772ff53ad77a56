import { fromByteString, toByteString } from '../byte-string.js';
import type { ResolvedMapping } from '../db/mapping.js';
import { INVALID_JSON_KEY, type AuditEntry } from '../domain.js';
import { contextualPluginFields } from '../secrets/plugin-paths.js';
import { maskSecretsInText } from '../secrets/value-rules.js';
import { camelCaseName, isSecretName } from '../secrets/rules.js';
import { hasEscapedKey, normalizeSecretKey, SECRET_MASK, type SecretPolicy } from '../secrets/policy.js';

const STATES = ['before', 'after'] as const;
const MARKERS = STATES.map((state) => `,"${state}":{"${INVALID_JSON_KEY}":"invalid_json",`);

/** Only a `text` state column can hold what is not JSON (json and jsonb refuse it on insert). */
export function mayHoldInvalidStates(mapping: ResolvedMapping): boolean {
  return STATES.some((state) => mapping.columns[state]?.type === 'text');
}

/**
 * For an export entry (its JSON text as a byte string): names each state the server found not to be JSON and
 * carried as `{"$api7_audit":"invalid_json","raw":"..."}` (src/db/entry-columns.ts), and, given a policy, masks the
 * secrets in that raw text, which the JSON masking cannot see inside a string. Returns the entry's bytes.
 */
export function reportInvalidStatesInText(jsonBytes: string, verb: string, warn: (message: string) => void, policy?: SecretPolicy): string {
  if (!MARKERS.some((marker) => jsonBytes.includes(marker))) return jsonBytes;
  const entry = JSON.parse(fromByteString(jsonBytes)) as AuditEntry;
  return toByteString(JSON.stringify(reportInvalidStatesInEntry(entry, verb, warn, policy)));
}

/** {@link reportInvalidStatesInText} for an entry read as an object (list). */
export function reportInvalidStatesInEntry(entry: AuditEntry, verb: string, warn: (message: string) => void, policy?: SecretPolicy): AuditEntry {
  for (const state of STATES) {
    if (isInvalidMarker(entry[state])) {
      warn(`warning: entry id ${entry.id}: ${state} is not valid JSON; ${verb} as {"${INVALID_JSON_KEY}":"invalid_json","raw":"<its text>"}`);
    }
  }
  return policy === undefined ? entry : maskInvalidStates(entry, policy);
}

/** The entry with the secrets in the raw text of each state that is not JSON masked (show). */
export function maskInvalidStates(entry: AuditEntry, policy: SecretPolicy): AuditEntry {
  let out = entry;
  for (const state of STATES) {
    const value = entry[state];
    if (isInvalidMarker(value)) out = { ...out, [state]: { ...value, raw: maskRawText(value.raw, policy) } };
  }
  return out;
}

/** {@link maskInvalidStates} for an entry's JSON text in any spacing (prune --archive). */
export function maskInvalidStatesInJson(json: string, policy: SecretPolicy): string {
  if (!json.includes(MARKER_TEXT)) return json;
  return JSON.stringify(maskInvalidStates(JSON.parse(json) as AuditEntry, policy));
}

const MARKER_TEXT = `{"${INVALID_JSON_KEY}":"invalid_json","raw":`;

function isInvalidMarker(value: unknown): value is { raw: string } {
  if (typeof value !== 'object' || value === null) return false;
  const marker = value as Record<string, unknown>;
  return marker[INVALID_JSON_KEY] === 'invalid_json' && typeof marker.raw === 'string';
}

/** `"name": value` in text that is not JSON: a value is a string (unterminated: the rest) or anything up to , } ]. */
const PAIR = /"((?:[^"\\]|\\.)*)"(\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|[^\s,}\]]*)/g;

/**
 * A name written otherwise, before `:` or `=`: single-quoted (a Python repr) or bare (YAML, a JS object, a Lua table,
 * an env line); its value quoted either way (unterminated: the rest) or anything up to a space , ; } ] or ).
 */
const OTHER_PAIR = /(^|[\s{,;([])('(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$.-]*)([ \t]*[:=][ \t]*)(?:"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,;}\])]*)/g;
/** `<name attributes>value</name>` (XML). */
const XML_ELEMENT = /<([A-Za-z_][\w.-]*)(\s[^>]*)?>[^<]*<\/\1\s*>/g;

/**
 * The value of each field named like a secret (any `key`, `keys` or other field a plugin declares secret too, as
 * their context cannot be trusted here), and each secret value (a URL's password, a JWT, a header line), masked in
 * text that is not JSON. A key written with an escape could spell a secret name unseen, and a PEM private key
 * anywhere makes it all a secret.
 */
export function maskRawText(raw: string, policy: SecretPolicy): string {
  // No pre-check: it reads names as JSON writes them, and a state that is not JSON is rare.
  if (hasEscapedKey(raw)) return SECRET_MASK;
  const contextual = new Set(['key', 'keys', ...contextualPluginFields(policy.keys).fields]);
  const isSecret = (name: string) => {
    const key = normalizeSecretKey(name);
    return isSecretName(key, policy.keys, camelCaseName(name)) || contextual.has(key);
  };
  const named = raw
    .replace(PAIR, (pair, name: string, colon: string) => (isSecret(name) ? `"${name}"${colon}"${SECRET_MASK}"` : pair))
    .replace(OTHER_PAIR, (pair, start: string, name: string, sign: string) => (isSecret(name.replace(/^'|'$/g, '')) ? `${start}${name}${sign}${SECRET_MASK}` : pair))
    .replace(XML_ELEMENT, (element, name: string, attributes: string | undefined) => (isSecret(name) ? `<${name}${attributes ?? ''}>${SECRET_MASK}</${name}>` : element));
  return maskSecretsInText(named, () => SECRET_MASK);
}
