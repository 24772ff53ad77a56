/**
 * The object walkers: masking a parsed JSON value in place, by the rules of rules.ts, the plugins' declared paths
 * (plugin-paths.ts) and the secret values of value-rules.ts. The reference every fast path (row-hints.ts,
 * mask-hits.ts, scan-bytes.ts) is tested against.
 */
import { maskJsonFragments, type FragmentRules } from './json-fragments.js';
import { contextualPluginFields, enterField, pluginListItemNode, PLUGINS_NODE, type PathNode } from './plugin-paths.js';
import { isSecretNameValue, isSecretVarName } from './row-hints.js';
import { cachedCamelCaseName, isCertName, isSecretField, isSecretName, MAX_DEPTH, normalizedName, normalizeSecretKey, SECRET_MASK, SSL_RESOURCE_TYPES } from './rules.js';
import { isSecretHeaderName, JSON_IN_STRING, maskSecretsInText } from './value-rules.js';

/** What the walkers need: the secret names, and what a secret value becomes. */
export interface Rules {
  keys: ReadonlySet<string>;
  mask: (value: unknown) => string;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A copy of the plain objects and arrays in a value (other values shared), for the in-place walker to change. */
export function copyJson(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH + 1) return value;
  if (Array.isArray(value)) return value.map((item) => copyJson(item, depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  // defineProperty: a `__proto__` key stays data instead of changing the prototype.
  for (const [key, item] of Object.entries(value)) Object.defineProperty(out, key, { value: copyJson(item, depth + 1), writable: true, enumerable: true, configurable: true });
  return out;
}

/**
 * Masks an entry's `before` and `after` in place (an SSL resource's roots as SSL objects); true when anything was
 * masked.
 */
export function maskStatesInPlace(entry: { resource_type?: unknown; before?: unknown; after?: unknown }, rules: Rules): boolean {
  const type = typeof entry.resource_type === 'string' ? normalizeSecretKey(entry.resource_type) : '';
  const ssl = SSL_RESOURCE_TYPES.has(type);
  const state = { masked: false };
  if ('before' in entry) entry.before = maskInPlace(entry.before, rules, '', undefined, 0, ssl, state);
  if ('after' in entry) entry.after = maskInPlace(entry.after, rules, '', undefined, 0, ssl, state);
  return state.masked;
}

/**
 * Masks a value in place: `holder[field]` when a field is named (the value may itself be replaced), else the value,
 * which must then be an object or an array. True when anything was masked.
 */
export function maskValueInPlace(holder: unknown, rules: Rules, field?: string): boolean {
  const state = { masked: false };
  if (field === undefined) maskInPlace(holder, rules, '', undefined, 0, false, state);
  else (holder as Record<string, unknown>)[field] = maskInPlace((holder as Record<string, unknown>)[field], rules, '', undefined, 0, false, state);
  return state.masked;
}

/** Field names that name a header in `{"name": "Authorization", "value": "..."}`, and those holding its value. */
const HEADER_NAME_FIELDS: ReadonlySet<string> = new Set(['name', 'key', 'header', 'header_name']);
const HEADER_VALUE_FIELDS: ReadonlySet<string> = new Set(['value', 'values', 'header_value']);

/**
 * Masks a value fresh from JSON.parse (or copied by {@link copyJson}) in place. Returns the value to store in place
 * of `value`; sets `state.masked` when anything was replaced. `parentKey` is the normalized name of the field whose
 * value this is, `path` its node among the plugins' declared secret paths; arrays pass both to their items.
 */
function maskInPlace(value: unknown, rules: Rules, parentKey: string, path: PathNode | undefined, depth: number, ssl: boolean, state: { masked: boolean }): unknown {
  if (depth > MAX_DEPTH) {
    state.masked = true;
    return SECRET_MASK;
  }
  if (typeof value === 'string') return maskString(value, rules, depth, state);
  if (Array.isArray(value)) {
    // `plugins` as a list of `{"name": "key-auth", "config": {...}}`: each item's config under its plugin's node.
    for (let i = 0; i < value.length; i += 1) value[i] = maskInPlace(value[i], rules, parentKey, path === PLUGINS_NODE ? pluginListItemNode(value[i]) : path, depth + 1, false, state);
    // A `["Authorization", "Bearer ..."]` pair: the second item is the header's value (unless another header name).
    if (value.length === 2 && typeof value[0] === 'string' && isSecretHeaderName(value[0]) && !(typeof value[1] === 'string' && isSecretHeaderName(value[1]))) {
      value[1] = rules.mask(value[1]);
      state.masked = true;
    }
    // An APISIX `vars` expression on a credential, `["http_x_api_key", "==", "..."]` (`"!"` negates the operator
    // after it): what it is compared with is the credential. A plain list of cookie names has no operator.
    const operandAt = value.length >= 3 && typeof value[0] === 'string' ? varsOperandIndex(value) : -1;
    if (operandAt > 0 && isSecretVarName(value[0] as string, rules.keys)) {
      for (let i = operandAt; i < value.length; i += 1) value[i] = rules.mask(value[i]);
      state.masked = true;
    }
    return value;
  }
  if (!isPlainObject(value)) return value;
  const names = Object.keys(value);
  let isSsl = ssl;
  let header = false;
  for (const key of names) {
    const name = normalizedName(key);
    if (isCertName(name)) isSsl = true;
    const item = value[key];
    if (HEADER_NAME_FIELDS.has(name) && typeof item === 'string' && isSecretNameValue(item, rules.keys)) header = true;
  }
  for (const key of names) {
    const name = normalizedName(key);
    const item = value[key];
    const child = enterField(path, name);
    const secret = isSecretField(name, rules.keys, isSsl, parentKey, child, cachedCamelCaseName(key)) || (header && HEADER_VALUE_FIELDS.has(name));
    const next = secret ? rules.mask(item) : maskInPlace(item, rules, name, child, depth + 1, false, state);
    if (secret) state.masked = true;
    if (next === item) continue;
    // defineProperty, not assignment: a `__proto__` key is data here, and assigning to it would set the prototype.
    Object.defineProperty(value, key, { value: next, writable: true, enumerable: true, configurable: true });
  }
  return value;
}

/** A string value: a JSON document it holds is masked as one; otherwise the secrets in its text (value-rules.ts). */
function maskString(text: string, rules: Rules, depth: number, state: { masked: boolean }): string {
  if (JSON_IN_STRING.test(text)) {
    const inner = parseJson(text);
    if (inner !== undefined) {
      const innerState = { masked: false };
      const masked = maskInPlace(inner.value, rules, '', undefined, depth + 1, false, innerState);
      if (!innerState.masked) return text;
      state.masked = true;
      return JSON.stringify(masked);
    }
  }
  // Without a quote no JSON member can be in it (a fragment: `body {"password": ...}`, an escaped object).
  const members = text.includes('"') ? maskJsonFragments(text, fragmentRules(rules, depth)) : text;
  const masked = maskSecretsInText(members, rules.mask);
  if (masked !== text) state.masked = true;
  return masked;
}

/** How JSON inside a string is masked: a document as a whole one, a member by its name alone. */
function fragmentRules(rules: Rules, depth: number): FragmentRules {
  return {
    isSecret: fragmentNameTest(rules.keys),
    mask: rules.mask,
    maskDocument: (value) => {
      const state = { masked: false };
      const masked = maskInPlace(value, rules, '', undefined, depth + 1, false, state);
      return state.masked ? masked : undefined;
    },
  };
}

const fragmentNameTests = new WeakMap<ReadonlySet<string>, (name: string) => boolean>();

/**
 * Whether a member's name in a JSON fragment is a secret: named like one, a secret header, or a contextual name
 * (`key`, `keys`, a plugin's declared field), which no context can clear in a fragment.
 */
function fragmentNameTest(keys: ReadonlySet<string>): (name: string) => boolean {
  let test = fragmentNameTests.get(keys);
  if (test === undefined) {
    const contextual = new Set(['key', 'keys', ...contextualPluginFields(keys).fields]);
    test = (name) => {
      const normalized = normalizeSecretKey(name);
      return isSecretName(normalized, keys, cachedCamelCaseName(name)) || contextual.has(normalized) || isSecretHeaderName(name);
    };
    fragmentNameTests.set(keys, test);
  }
  return test;
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** lua-resty-expr's operators, which APISIX's `vars` use; it reads them case-insensitively. */
const VARS_OPERATORS: ReadonlySet<string> = new Set(['==', '~=', '>', '>=', '<', '<=', '~~', '~*', 'in', 'has', 'ipmatch']);

/** Where the compared value starts in `[variable, operator, value]` or `[variable, "!", operator, value]`, else -1. */
function varsOperandIndex(expression: unknown[]): number {
  const negated = expression[1] === '!';
  const operator = expression[negated ? 2 : 1];
  if (typeof operator !== 'string' || !VARS_OPERATORS.has(operator.trim().toLowerCase())) return -1;
  return negated ? 3 : 2;
}
