import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { postgresTimestampText } from '../config/instant.js';
import { CANONICAL_FIELDS } from '../domain.js';
import { fileErrorReason, UsageError } from '../errors.js';
import type { ArchivedEntry } from './compare.js';
import { fileLines } from './lines.js';

/** What the seal's encoding (api7-audit-seal/2) puts after a BC timestamp. */
const ERA = ' BC';

/**
 * A timestamp that may be BC: before 1900, so that the lines of a real audit trail are hashed once (BC years from
 * 1900 back to PostgreSQL's 4713 are read as AD: such an archived entry is reported as not the sealed one); or one
 * that is, in the expanded form (`-000043-...`), whose hash is the same either way (sealTimestamp).
 */
function mayBeBc(raw: string | undefined): boolean {
  return raw !== undefined && (/^"-\d{6}-/.test(raw) || (/^"\d{4}-/.test(raw) && Number(raw.slice(1, 5)) < 1900));
}

/** Which stored types the lines' fields came from: only then can a line be turned back into the stored values. */
export interface ArchiveTypes {
  sourceIp: string | undefined;
  states: (string | undefined)[];
}

/** Masked values (`"******"`, `"******(hmac-sha256:...)"`): such a line cannot be checked, only found. */
const MASKED = '"******';
const UNESCAPED_SEPARATOR = /(?<!\\)((?:\\\\)*)\\u(2028|2029|0085)/g;

/**
 * Reads prune archives and exported NDJSON files (`.gz`: gzip members) into an index by entry id. A line whose
 * secrets are not masked (`--show-secrets`) of a table whose states are jsonb carries the stored values exactly
 * (jsonb's text inside the line), so its entry hash is recomputed; any other line only shows the entry was kept.
 */
export async function readArchives(paths: readonly string[], types: ArchiveTypes): Promise<Map<string, ArchivedEntry>> {
  const index = new Map<string, ArchivedEntry>();
  const checkable = types.states.every((type) => type === undefined || type === 'jsonb');
  for (const path of paths) {
    const stream = createReadStream(path);
    const opened = new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject));
    await opened.catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --archive '${path}': ${fileErrorReason(error)}`);
    });
    const input = path.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
    let number = 0;
    for await (const line of fileLines(input)) {
      number += 1;
      if (line.trim() === '') continue;
      const spans = topLevelSpans(line);
      const id = spans?.get('id');
      if (!spans || id === undefined || !id.startsWith('"')) throw new UsageError(`--archive '${path}' line ${number} is not an audit entry (NDJSON of list, export or prune --archive)`);
      const hash = checkable && !line.includes(MASKED) ? entryHash(spans, types) : undefined;
      // A line's timestamp has no era: one that may be BC is hashed both ways, and the seal's leaf says which it was.
      const bcHash = hash !== undefined && mayBeBc(spans.get('timestamp')) ? entryHash(spans, types, ERA) : undefined;
      index.set(JSON.parse(id) as string, { file: path, hash, ...(bcHash === undefined ? {} : { bcHash }) });
    }
  }
  return index;
}

/**
 * A line's timestamp as the seal's leaf holds it. list, export and prune's archive print a year outside 1-9999 in ISO
 * 8601's expanded form (`-000043-...` is 44 BC): that says its era. A four-digit year of an older version's line
 * does not: `era` is what the caller tries.
 */
function sealTimestamp(text: string, era: string): string {
  const pg = postgresTimestampText(text);
  return pg === text ? text + era : pg;
}

/** SHA-256 of the canonical encoding (docs/decisions/005-seal-canonical-encoding.md) rebuilt from a line's values. */
function entryHash(spans: Map<string, string>, types: ArchiveTypes, era = ''): string {
  const hash = createHash('sha256');
  for (const field of CANONICAL_FIELDS) {
    const raw = spans.get(field);
    let value: string | null;
    if (raw === undefined || raw === 'null') value = null;
    else if (field === 'before' || field === 'after') value = raw.replace(UNESCAPED_SEPARATOR, (_, slashes: string, code: string) => slashes + String.fromCharCode(parseInt(code, 16)));
    else if (field === 'timestamp') value = sealTimestamp(String(JSON.parse(raw)), era);
    else value = String(JSON.parse(raw));
    // The lines show an inet as host(); its ::text always carries the prefix, /32 or /128 for one host.
    if (field === 'source_ip' && value !== null && (types.sourceIp === 'inet' || types.sourceIp === 'cidr') && !value.includes('/')) {
      value += value.includes(':') ? '/128' : '/32';
    }
    const bytes = value === null ? undefined : Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeInt32BE(bytes ? bytes.length : -1);
    hash.update(length);
    if (bytes) hash.update(bytes);
  }
  return hash.digest('hex');
}

/**
 * The raw text of each member of a one-line JSON object, by key, without parsing the values (jsonb's text must be
 * kept as it is); undefined when the line is not an object.
 */
export function topLevelSpans(line: string): Map<string, string> | undefined {
  const spans = new Map<string, string>();
  let at = skipSpace(line, 0);
  if (line[at] !== '{') return undefined;
  at = skipSpace(line, at + 1);
  if (line[at] === '}') return spans;
  for (;;) {
    if (line[at] !== '"') return undefined;
    const keyEnd = endOfString(line, at);
    const key = JSON.parse(line.slice(at, keyEnd)) as string;
    at = skipSpace(line, keyEnd);
    if (line[at] !== ':') return undefined;
    const start = skipSpace(line, at + 1);
    const end = endOfValue(line, start);
    spans.set(key, line.slice(start, end).trimEnd());
    at = skipSpace(line, end);
    if (line[at] === '}') return spans;
    if (line[at] !== ',') return undefined;
    at = skipSpace(line, at + 1);
  }
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && ' \t\r\n'.includes(text[at] as string)) at += 1;
  return at;
}

/** The index after the string that opens at `at`. */
function endOfString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i + 1;
  }
  return text.length;
}

/** The index after the value that starts at `at`: a string, a container (strings inside skipped), or a scalar. */
function endOfValue(text: string, at: number): number {
  if (text[at] === '"') return endOfString(text, at);
  let depth = 0;
  for (let i = at; i < text.length; i += 1) {
    const char = text[i];
    if (char === '"') i = endOfString(text, i) - 1;
    else if (char === '{' || char === '[') depth += 1;
    else if (char === '}' || char === ']') {
      if (depth === 0) return i;
      depth -= 1;
      if (depth === 0) return i + 1;
    } else if (char === ',' && depth === 0) return i;
  }
  return text.length;
}
