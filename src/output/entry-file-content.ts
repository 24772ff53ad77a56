import type { FileHandle } from 'node:fs/promises';
import { createInflateRaw } from 'node:zlib';
import { UsageError } from '../errors.js';

/** The longest line read back to check it: entries are far smaller; a longer "line" is not one of ours. */
const MAX_LINE = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;

export interface EntryTextFile {
  path: string;
  flag: string;
  gzip: boolean;
}

/**
 * Checks that an existing file holds NDJSON entries of this tool (plain lines, or gzip members each ending in a
 * newline) and returns how many bytes to keep: all of them, or up to a torn tail. Anything else is refused with a
 * UsageError, and nothing is cut from it. A plain file is judged by its first and last complete lines (reading a
 * large archive whole on every run costs too much); a gzip file is decompressed whole, as it must be to find where
 * its last member starts.
 */
export async function checkEntryText(handle: FileHandle, size: number, file: EntryTextFile): Promise<number> {
  return file.gzip ? checkGzipMembers(handle, size, file) : checkLines(handle, size, file);
}

async function checkLines(handle: FileHandle, size: number, file: EntryTextFile): Promise<number> {
  const lastNewline = await findLastNewline(handle, size);
  if (lastNewline < 0) {
    // One line and no newline (a first batch torn by a kill, or someone else's file), or no newline near the end.
    const text = size > MAX_LINE ? Buffer.alloc(0) : await readRange(handle, 0, size);
    if (!isTornEntry(text)) throw notEntries(file, 'its only line is not an entry of this tool and has no newline');
    return 0;
  }
  const first = await readLineFrom(handle, 0, size);
  if (first === undefined || !isEntryLine(first)) throw notEntries(file, 'its first line is not an entry of this tool');
  const last = await readLineBefore(handle, lastNewline);
  if (last === undefined || !isEntryLine(last)) throw notEntries(file, 'its last line is not an entry of this tool');
  const keep = lastNewline + 1;
  if (keep === size) return size;
  // A tail longer than any entry is not cut, whatever it starts with.
  if (size - keep > MAX_LINE || !isTornEntry(await readRange(handle, keep, size - keep))) {
    throw notEntries(file, 'it does not end with a newline and its last line is not a torn entry');
  }
  return keep;
}

/** One entry as this tool writes it: a JSON object with the canonical fields (row_to_json or json_build_object). */
function isEntryLine(line: Buffer): boolean {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) return false;
    throw error;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'id' in value && 'timestamp' in value && 'operation' in value;
}

const ENTRY_START = /^\{\s*"id"\s*:/;

/**
 * What a kill leaves of an entry: its beginning (the entry's first field is always `id`), and not a complete JSON
 * value unless it is a whole entry that lost only its newline. A one-line JSON document of someone else's fails both.
 */
function isTornEntry(text: Buffer): boolean {
  if (text.length === 0) return false;
  if (isEntryLine(text)) return true;
  const head = text.subarray(0, 64).toString('utf8');
  const opening = '{"id":';
  if (!ENTRY_START.test(head) && !opening.startsWith(head.replace(/\s+/g, ''))) return false;
  return !isJson(text);
}

function isJson(text: Buffer): boolean {
  try {
    JSON.parse(text.toString('utf8'));
    return true;
  } catch (error) {
    if (error instanceof SyntaxError) return false;
    throw error;
  }
}

/** The offset of the last newline, or -1 if there is none within MAX_LINE of the end. */
async function findLastNewline(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(Math.min(CHUNK, size));
  for (let end = size; end > 0 && size - end <= MAX_LINE; ) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) return start + newline;
    end = start;
  }
  return -1;
}

/** The line starting at `start` (without its newline), or undefined past MAX_LINE. */
async function readLineFrom(handle: FileHandle, start: number, size: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  for (let position = start, length = 0; position < size && length <= MAX_LINE; ) {
    const part = await readRange(handle, position, Math.min(CHUNK, size - position));
    const newline = part.indexOf(0x0a);
    if (newline >= 0) return Buffer.concat([...parts, part.subarray(0, newline)]);
    parts.push(part);
    position += part.length;
    length += part.length;
  }
  return undefined;
}

/** The line that ends at the newline at `end` (without it), or undefined past MAX_LINE. */
async function readLineBefore(handle: FileHandle, end: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  for (let stop = end, length = 0; length <= MAX_LINE; ) {
    const start = Math.max(0, stop - CHUNK);
    const part = await readRange(handle, start, stop - start);
    const newline = part.lastIndexOf(0x0a);
    if (newline >= 0 || start === 0) return Buffer.concat([part.subarray(newline + 1), ...parts]);
    parts.unshift(part);
    stop = start;
    length += part.length;
  }
  return undefined;
}

async function readRange(handle: FileHandle, start: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, start + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

type Member = { kind: 'complete'; end: number } | { kind: 'torn' } | { kind: 'corrupt'; why: string };

/** Walks the gzip members; returns the start of a torn last member, or the size when every member is whole. */
async function checkGzipMembers(handle: FileHandle, size: number, file: EntryTextFile): Promise<number> {
  let offset = 0;
  for (let index = 0; offset < size; index += 1) {
    const member = await readMember(handle, offset, size, index === 0 ? file : undefined);
    // A member cut short with a whole one after it is damage in the middle, not a torn last write: cut nothing.
    if (member.kind === 'torn' && !(await hasWholeMemberAfter(handle, offset + 1, size))) return offset;
    if (member.kind === 'torn') return corrupt(file, 'a damaged member followed by whole ones', offset);
    if (member.kind === 'corrupt') return corrupt(file, member.why, offset);
    offset = member.end;
  }
  return size;
}

function corrupt(file: EntryTextFile, why: string, offset: number): never {
  throw new UsageError(`${file.flag} '${file.path}' is not an NDJSON gzip file of this tool (${why} at byte ${offset}); nothing was written to it: pass another path`);
}

/** Whether a whole gzip member starts anywhere in [from, size): tries each gzip magic found, a bounded number. */
async function hasWholeMemberAfter(handle: FileHandle, from: number, size: number): Promise<boolean> {
  const magic = Buffer.from([0x1f, 0x8b, 0x08]);
  let tries = 0;
  for (let position = from; position < size && tries < 64; position += CHUNK - 2) {
    const chunk = await readRange(handle, position, Math.min(CHUNK, size - position));
    for (let at = chunk.indexOf(magic); at >= 0 && tries < 64; at = chunk.indexOf(magic, at + 1)) {
      tries += 1;
      if (at > CHUNK - 3) break;
      if ((await readMember(handle, position + at, size, undefined)).kind === 'complete') return true;
    }
  }
  return false;
}

const GZIP_FLAGS = { FHCRC: 2, FEXTRA: 4, FNAME: 8, FCOMMENT: 16 };

/** One gzip member from `offset`: header, deflate data (inflated to check it is NDJSON), and its 8-byte trailer. */
async function readMember(handle: FileHandle, offset: number, size: number, first: EntryTextFile | undefined): Promise<Member> {
  const header = await readRange(handle, offset, Math.min(size - offset, 64 * 1024));
  const headerLength = gzipHeaderLength(header);
  if (headerLength === 'short') return offset + header.length === size ? { kind: 'torn' } : { kind: 'corrupt', why: 'a gzip header too long' };
  if (headerLength === 'invalid') return { kind: 'corrupt', why: 'no gzip header' };
  const inflate = createInflateRaw();
  let length = 0;
  let last = 0x0a;
  const firstLine: Buffer[] = [];
  let firstLineDone = first === undefined;
  inflate.on('data', (chunk: Buffer) => {
    length += chunk.length;
    last = chunk[chunk.length - 1] ?? last;
    if (firstLineDone) return;
    const newline = chunk.indexOf(0x0a);
    firstLine.push(newline >= 0 ? chunk.subarray(0, newline) : chunk);
    firstLineDone = newline >= 0 || length > MAX_LINE;
  });
  const finished = new Promise<Error | undefined>((resolve) => {
    inflate.once('end', () => resolve(undefined));
    inflate.once('error', (error) => resolve(error));
  });
  let ended = false;
  void finished.then(() => {
    ended = true;
  });
  // Input past the end of the deflate data is ignored by the inflater, so reading one chunk too far is harmless.
  for (let position = offset + headerLength; position < size && !ended; ) {
    const chunk = await readRange(handle, position, Math.min(CHUNK, size - position));
    position += chunk.length;
    await new Promise<void>((resolve) => inflate.write(chunk, () => resolve()));
  }
  inflate.end();
  const failure = await finished;
  if (failure) {
    // A deflate stream cut short is a torn write; any other inflate error is damage or not gzip at all.
    return (failure as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' ? { kind: 'torn' } : { kind: 'corrupt', why: failure.message };
  }
  const trailerAt = offset + headerLength + inflate.bytesWritten;
  if (trailerAt + 8 > size) return { kind: 'torn' };
  const trailer = await readRange(handle, trailerAt, 8);
  if (trailer.readUInt32LE(4) !== length % 2 ** 32) return { kind: 'corrupt', why: 'a member whose size does not match its trailer' };
  if (length > 0 && last !== 0x0a) return { kind: 'corrupt', why: 'a member that does not end with a newline' };
  if (first && length > 0 && !isEntryLine(Buffer.concat(firstLine))) return { kind: 'corrupt', why: 'a first line that is not an entry of this tool' };
  return { kind: 'complete', end: trailerAt + 8 };
}

function gzipHeaderLength(header: Buffer): number | 'short' | 'invalid' {
  const magic = Buffer.from([0x1f, 0x8b, 0x08]);
  if (!header.subarray(0, 3).equals(magic.subarray(0, Math.min(3, header.length)))) return 'invalid';
  if (header.length < 10) return 'short';
  const flags = header[3] ?? 0;
  let length = 10;
  if (flags & GZIP_FLAGS.FEXTRA) {
    if (header.length < length + 2) return 'short';
    length += 2 + header.readUInt16LE(length);
  }
  for (const flag of [GZIP_FLAGS.FNAME, GZIP_FLAGS.FCOMMENT]) {
    if (!(flags & flag)) continue;
    const zero = header.indexOf(0, length);
    if (zero < 0) return 'short';
    length = zero + 1;
  }
  if (flags & GZIP_FLAGS.FHCRC) length += 2;
  return length > header.length ? 'short' : length;
}

function notEntries(file: EntryTextFile, why: string): UsageError {
  return new UsageError(`${file.flag} '${file.path}' is not an NDJSON file of entries (${why}); nothing was written to it: pass another path`);
}
