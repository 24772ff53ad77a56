import { enterField, PLUGINS_NODE, type PathNode } from './plugin-paths.js';
import { STRING_MAY_HOLD_SECRET } from './value-rules.js';
import { CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, isSpace, OPEN_BRACE, OPEN_BRACKET, QUOTE, replaceRanges, stringEnd } from './json-text.js';
import { cachedCamelCaseName, isCertName, isSecretField, MAX_DEPTH, normalizedName, SSL_RESOURCE_TYPES } from './rules.js';


/** The text is in a form the scanner leaves to the parser (an escaped or non-ASCII key, deep nesting, odd JSON). */
class Unusual extends Error {}

/**
 * Masks an audit entry's JSON text held as a byte string (src/byte-string.ts) by scanning it, with the rules of
 * policy.ts's object walkers: each secret value, whatever it holds, becomes `"******"` where it stands, and every
 * other byte stays as it was (the server's own spacing included). Measured on the bench rows that need it (30 % of
 * them), parsing, masking and writing back cost about 10 s of CPU per 2,000,000 exported entries, and its garbage
 * made the records outlive the young generation. Returns the text itself when nothing is secret, and undefined for
 * text it leaves to JSON.parse: a key with an escape or a non-ASCII byte (which could spell a secret name), nesting
 * deeper than {@link DEPTH_LIMIT}, anything that is not a compact entry object, or a string of a state, not
 * already inside a secret, that may itself be a secret ({@link STRING_MAY_HOLD_SECRET}: a URL with a password, a
 * JWT, JSON in a string...), which the walkers decide.
 */
export function maskEntryByteString(text: string, keys: ReadonlySet<string>, checkStrings = true, mask?: (token: string) => string): string | undefined {
  const scan = new EntryScan(text, keys, checkStrings);
  try {
    scan.entry();
  } catch (error) {
    if (error instanceof Unusual) return undefined;
    throw error;
  }
  return scan.result(mask);
}

/** Well inside MAX_DEPTH, where the walkers start masking everything: deeper text goes to them. */
const DEPTH_LIMIT = Math.min(64, MAX_DEPTH);

// A key of printable ASCII only: no escape, no control character, no byte of a multi-byte character.
const PLAIN_KEY = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
const NORMAL = 0;
const PLAIN = 1;
const UNUSUAL_KEY = 2;

/**
 * {@link NORMAL} for a key that is its own normalized name (printable ASCII, no upper case, `-` or space), {@link PLAIN}
 * for other printable ASCII, else {@link UNUSUAL_KEY} (an escape, a control character, a byte of a multi-byte
 * character). A loop over the few characters of a key: a third of the time of two RegExp tests on a slice of it.
 */
function keyKind(text: string, start: number, end: number): number {
  let kind = NORMAL;
  for (let i = start; i < end; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x5c) return UNUSUAL_KEY;
    if (code === 0x2d || code === 0x20 || (code >= 0x41 && code <= 0x5a)) kind = PLAIN;
  }
  return kind;
}
const SCALAR_END = /[,}\]\s]/g;

class EntryScan {
  /** [start, end) of each secret value, in the order found; a range inside a later one is dropped at the end. */
  private readonly ranges: number[] = [];

  constructor(
    private readonly text: string,
    private readonly keys: ReadonlySet<string>,
    /** False when the whole text is known to hold no secret-looking string (the pre-check of row-hints.ts said so). */
    private readonly checkStrings: boolean,
  ) {}

  /** The root object: only `before` and `after` are scanned, as SSL objects when the resource type is one. */
  entry(): void {
    const { text } = this;
    if (text.charCodeAt(0) !== OPEN_BRACE) throw new Unusual();
    let ssl = false;
    let typeSeen = false;
    let states = 0;
    let at = this.space(1);
    if (text.charCodeAt(at) === CLOSE_BRACE) throw new Unusual();
    const head = this.headEnd();
    if (head > 0) {
      // The entry query's head: only its resource type matters; the members start again at `"before":`.
      const type = text.lastIndexOf(RESOURCE_TYPE_KEY, head) + RESOURCE_TYPE_KEY.length;
      ssl = this.isSslType(type, this.skip(type));
      typeSeen = true;
      at = head + 1;
    }
    for (;;) {
      const value = this.member(at);
      const { name } = this;
      if (name === 'before' || name === 'after') {
        // The export writes the resource type first; in any other order the parser decides.
        if (!typeSeen) throw new Unusual();
        states += 1;
        at = this.value(value, '', undefined, ssl, 0);
      } else {
        at = this.skip(value);
        if (name === 'resource_type') {
          typeSeen = true;
          ssl = this.isSslType(value, at);
        }
      }
      at = this.space(at);
      const next = text.charCodeAt(at);
      if (next === CLOSE_BRACE) break;
      if (next !== COMMA) throw new Unusual();
      at = this.space(at + 1);
    }
    if (states === 0 || this.space(at + 1) !== text.length) throw new Unusual();
  }

  /**
   * Where `,"before":` ends the head of an entry as the entry query writes it (`{"id":`, the plain fields in their
   * order, the resource type among them, no state), or 0 when the text may be in another form: then every member is
   * read. In a string the quotes would be escaped, so the first `,"before":` and `,"resource_type":` are keys.
   */
  private headEnd(): number {
    const { text } = this;
    if (!text.startsWith('{"id":')) return 0;
    const before = text.indexOf(',"before":');
    if (before < 0 || text.lastIndexOf(RESOURCE_TYPE_KEY, before) < 0) return 0;
    const after = text.indexOf(',"after":');
    return after >= 0 && after < before ? 0 : before;
  }

  /**
   * The text with every range replaced by the mask, or by what `mask` makes of the range's JSON text (a fingerprint:
   * the walkers' own mask of the parsed value, so both ways give the same text).
   */
  result(mask?: (token: string) => string): string {
    return this.ranges.length === 0 ? this.text : replaceRanges(this.text, this.ranges, mask);
  }

  /** The normalized name of the key {@link member} read last, and its camelCase reading. */
  private name = '';
  private camel: string | undefined;

  /** A member at `at` (its key's opening quote): sets {@link name} to its key's and returns where its value starts. */
  private member(at: number): number {
    const { text } = this;
    if (text.charCodeAt(at) !== QUOTE) throw new Unusual();
    const end = text.indexOf('"', at + 1);
    if (end < 0) throw new Unusual();
    const kind = keyKind(text, at + 1, end);
    if (kind === UNUSUAL_KEY) throw new Unusual();
    const key = text.slice(at + 1, end);
    if (kind === NORMAL) {
      this.name = key;
      this.camel = undefined;
    } else {
      this.name = normalizedName(key);
      this.camel = cachedCamelCaseName(key);
    }
    const colon = this.space(end + 1);
    if (text.charCodeAt(colon) !== COLON) throw new Unusual();
    return this.space(colon + 1);
  }

  /** Scans the value at `at`, recording the secrets inside; returns where it ends. */
  private value(at: number, parentKey: string, path: PathNode | undefined, ssl: boolean, depth: number): number {
    const code = this.text.charCodeAt(at);
    if (code === OPEN_BRACE) return this.object(at, parentKey, path, ssl, depth);
    if (code === OPEN_BRACKET) return this.array(at, parentKey, path, depth);
    if (code === QUOTE) {
      const end = this.stringEnd(at);
      if (this.checkStrings && this.skipping === 0 && STRING_MAY_HOLD_SECRET.test(this.text.slice(at, end))) throw new Unusual();
      return end;
    }
    SCALAR_END.lastIndex = at;
    const end = SCALAR_END.exec(this.text);
    if (end === null || end.index === at) throw new Unusual();
    return end.index;
  }

  /** Records the value at `at` as a secret; returns where it ends. */
  private secret(at: number): number {
    const end = this.skip(at);
    this.ranges.push(at, end);
    return end;
  }

  /** Above 0 while {@link skip} reads a value: what it holds is masked whole, or is no state. */
  private skipping = 0;

  /** Where the value at `at` ends, recording nothing inside it. */
  private skip(at: number): number {
    const count = this.ranges.length;
    this.skipping += 1;
    const end = this.value(at, '', undefined, false, 0);
    this.skipping -= 1;
    if (this.ranges.length !== count) this.ranges.length = count;
    return end;
  }

  /**
   * An object: a key that is secret everywhere is masked at once; `key` and `keys`, which are secret in an SSL
   * object (one holding `cert` or `certs`, which may come after them), are decided when the object closes.
   */
  private object(at: number, parentKey: string, path: PathNode | undefined, ssl: boolean, depth: number): number {
    if (depth > DEPTH_LIMIT) throw new Unusual();
    const { text } = this;
    let pending: number[] | undefined;
    let hasCert = false;
    at = this.space(at + 1);
    if (text.charCodeAt(at) === CLOSE_BRACE) return at + 1;
    for (;;) {
      const value = this.member(at);
      const { name, camel } = this;
      const child = enterField(path, name);
      if (isSecretField(name, this.keys, ssl, parentKey, child, camel)) {
        at = this.secret(value);
      } else {
        at = this.value(value, name, child, false, depth + 1);
        // Not secret yet; secret should a cert turn up (isSecretField with ssl true says so for both).
        if (name === 'key' || name === 'keys') (pending ??= []).push(value, at);
      }
      if (isCertName(name)) hasCert = true;
      at = this.space(at);
      const next = text.charCodeAt(at);
      if (next === CLOSE_BRACE) break;
      if (next !== COMMA) throw new Unusual();
      at = this.space(at + 1);
    }
    if (hasCert && pending) {
      // Secrets found inside these values are covered by the values' own ranges (result() drops them).
      this.ranges.push(...pending);
    }
    return at + 1;
  }

  /** An array: its items are read with the array's own parent key and path, as the walkers do. */
  private array(at: number, parentKey: string, path: PathNode | undefined, depth: number): number {
    // `plugins` as a list of {name, config}: which plugin a config belongs to may come after it; the walkers decide.
    if (depth > DEPTH_LIMIT || (path === PLUGINS_NODE && this.skipping === 0)) throw new Unusual();
    const { text } = this;
    at = this.space(at + 1);
    if (text.charCodeAt(at) === CLOSE_BRACKET) return at + 1;
    for (;;) {
      at = this.space(this.value(at, parentKey, path, false, depth + 1));
      const next = text.charCodeAt(at);
      if (next === CLOSE_BRACKET) return at + 1;
      if (next !== COMMA) throw new Unusual();
      at = this.space(at + 1);
    }
  }

  /** Where the string opening at `at` ends (past its closing quote). */
  private stringEnd(at: number): number {
    const end = stringEnd(this.text, at);
    if (end === 0) throw new Unusual();
    return end;
  }

  /** Whether the resource type (a string from `start` to `end`) names an SSL resource; escapes go to the parser. */
  private isSslType(start: number, end: number): boolean {
    const token = this.text.slice(start, end);
    if (token === 'null') return false;
    const type = token.slice(1, -1);
    if (token.charCodeAt(0) !== QUOTE || !PLAIN_KEY.test(type)) throw new Unusual();
    return SSL_RESOURCE_TYPES.has(normalizedName(type));
  }

  /** The first position from `at` that is not JSON whitespace. */
  private space(at: number): number {
    const { text } = this;
    while (isSpace(text.charCodeAt(at))) at += 1;
    return at;
  }
}

const RESOURCE_TYPE_KEY = ',"resource_type":';
