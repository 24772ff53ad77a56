/**
 * Pretty JSON with object keys sorted at every level (arrays keep their order), so that two versions of a resource
 * print the same lines wherever nothing changed and a line diff shows only real changes, whatever order the
 * gateway happened to store the keys in. `undefined` (no value at all) prints as `null`.
 */
export function stableStringify(value: unknown, indent = 2): string {
  return writeJson(value, { indent, sortKeys: true });
}

export interface WriteJsonOptions {
  /** Spaces per level, as JSON.stringify's third argument; 0 for one line. */
  indent?: number;
  /**
   * Sort the keys of plain objects by UTF-16 code units, the same order in every locale. (Integer-like keys such as
   * `"10"` still print first, in numeric order: JavaScript enumerates them that way.)
   */
  sortKeys?: boolean;
}

interface Frame {
  container: Record<string, unknown> | unknown[];
  /** Object keys to write, or undefined for an array. */
  keys: string[] | undefined;
  next: number;
  written: number;
  /** The newline and indentation of this container's own level. */
  margin: string;
}

/** Indentation stops growing here: n levels of full indentation would be n² spaces, 50 MB for 5,000 levels. */
export const MAX_INDENT_LEVELS = 100;

/**
 * JSON.stringify(value, null, indent) without recursion: jsonb holds values nested thousands of levels deep, past
 * V8's stack (JSON.stringify itself fails near 5,000 levels). The same text for JSON values, plain objects and
 * toJSON (a Date) up to {@link MAX_INDENT_LEVELS}; top-level `undefined` prints as `null`.
 */
export function writeJson(value: unknown, options: WriteJsonOptions = {}): string {
  // The native writer is six times faster; it prints the same text wherever the indentation cap is not reached.
  // On one line there is no indentation to cap: only V8's stack limits it.
  if (!options.indent && !options.sortKeys) {
    const text = nativeJson(value);
    return text === TOO_DEEP ? writeDeepJson(value, options) : (text ?? 'null');
  }
  if (!nestsBeyond(value, MAX_INDENT_LEVELS - 1)) return JSON.stringify(value, options.sortKeys ? sortKeys : undefined, options.indent) ?? 'null';
  return writeDeepJson(value, options);
}

/** What {@link nativeJson} returns for a value nested past V8's stack. */
export const TOO_DEEP = Symbol('nested past the stack');

/**
 * JSON.stringify(value, replacer), or {@link TOO_DEEP} where the value nests deeper than V8's stack lets it go
 * (its RangeError, near 5,000 levels): the caller then takes a way without recursion. Any other error is thrown.
 */
export function nativeJson(value: unknown, replacer?: (key: string, value: unknown) => unknown): string | undefined | typeof TOO_DEEP {
  try {
    return JSON.stringify(value, replacer);
  } catch (error) {
    if (error instanceof RangeError) return TOO_DEEP;
    throw error;
  }
}

/** Whether some array or object lies `levels` or more below the top, found without recursion. */
function nestsBeyond(value: unknown, levels: number): boolean {
  const stack: { item: unknown; depth: number }[] = [{ item: value, depth: 0 }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const { item, depth } = top;
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= levels) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push({ item: child, depth: depth + 1 });
    }
  }
  return false;
}

/**
 * JSON.stringify replacer: returns a key-sorted copy of each plain object, which JSON.stringify then walks, calling
 * the replacer again on every value.
 */
function sortKeys(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !isPlainObject(value)) return value;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, record[key]]),
  );
}

/** {@link writeJson}'s own writer, used beyond the native one's reach (exported for its tests). */
export function writeDeepJson(value: unknown, options: WriteJsonOptions = {}): string {
  const unit = ' '.repeat(options.indent ?? 0);
  const sorted = options.sortKeys ?? false;
  const colon = unit === '' ? ':' : ': ';
  const out: string[] = [];
  const stack: Frame[] = [];
  const margins: string[] = [unit === '' ? '' : '\n'];
  const marginAt = (depth: number): string => {
    const level = Math.min(depth, MAX_INDENT_LEVELS);
    for (let next = margins.length; next <= level; next++) margins.push(`${margins[next - 1] ?? ''}${unit}`);
    return margins[level] as string;
  };

  /** Writes a primitive, or opens a container and pushes its frame. */
  const open = (item: unknown, depth: number): void => {
    if (item === null || typeof item !== 'object') {
      out.push(JSON.stringify(item) ?? 'null');
    } else if (Array.isArray(item)) {
      out.push('[');
      stack.push({ container: item, keys: undefined, next: 0, written: 0, margin: marginAt(depth) });
    } else {
      const keys = Object.keys(item);
      if (sorted && isPlainObject(item)) sortNamedKeys(keys);
      out.push('{');
      stack.push({ container: item as Record<string, unknown>, keys, next: 0, written: 0, margin: marginAt(depth) });
    }
  };

  open(toJsonValue(value, ''), 0);
  // The depth of the top frame is stack.length - 1 (margins are indexed by it).
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    const { container, keys } = frame;
    const length = keys ? keys.length : (container as unknown[]).length;
    if (frame.next >= length) {
      stack.pop();
      if (frame.written > 0) out.push(frame.margin);
      out.push(keys ? '}' : ']');
      continue;
    }
    const index = frame.next++;
    const key = keys ? (keys[index] as string) : String(index);
    const item = toJsonValue((container as Record<string, unknown>)[key], key);
    const absent = item === undefined || typeof item === 'function' || typeof item === 'symbol';
    if (keys && absent) continue;
    out.push(frame.written++ > 0 ? ',' : '', marginAt(stack.length));
    if (keys) out.push(JSON.stringify(key), colon);
    if (absent) out.push('null');
    else open(item, stack.length);
  }
  return out.join('');
}

function toJsonValue(value: unknown, key: string): unknown {
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  return value;
}

/** Sorts the keys after the integer-like ones, which JavaScript enumerates first, in numeric order, whatever we do. */
function sortNamedKeys(keys: string[]): void {
  let named = 0;
  while (named < keys.length && isArrayIndex(keys[named] as string)) named++;
  if (named === 0) {
    keys.sort();
    return;
  }
  const rest = keys.slice(named).sort();
  for (let index = 0; index < rest.length; index++) keys[named + index] = rest[index] as string;
}

const isArrayIndex = (key: string): boolean => /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 2 ** 32 - 1;

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
