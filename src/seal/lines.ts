import { StringDecoder } from 'node:string_decoder';

/**
 * The lines of a file, split at `\n` only (a `\r` before it dropped). Not readline: on Node.js 24 it also ends a
 * line at U+2028 and U+2029, which JSON keeps raw inside strings (a text id, a `list -o ndjson` archive), so a
 * leaves file or an archive holding one no longer read as one entry per line.
 */
export async function* fileLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    for (let end = rest.indexOf('\n'); end >= 0; end = rest.indexOf('\n', start)) {
      yield withoutCr(rest.slice(start, end));
      start = end + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield withoutCr(rest);
}

const withoutCr = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);
