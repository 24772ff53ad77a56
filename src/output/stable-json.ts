/**
 * Pretty JSON with object keys sorted at every level (arrays keep their order), so that two versions of a resource
 * print the same lines wherever nothing changed and a line diff shows only real changes, whatever order the
 * gateway happened to store the keys in. `undefined` (no value at all) prints as `null`.
 */
export function stableStringify(value: unknown, indent = 2): string {
  return JSON.stringify(value, sortKeys, indent) ?? 'null';
}

/**
 * JSON.stringify replacer: returns a key-sorted copy of each plain object, which JSON.stringify then walks,
 * calling the replacer again on every value. Keys compare by UTF-16 code units, the same order in every locale.
 * (Integer-like keys such as `"10"` still print first, in numeric order: JavaScript enumerates them that way.)
 */
function sortKeys(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, record[key]]),
  );
}
