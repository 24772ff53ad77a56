/**
 * Byte strings: UTF-8 text held in a JavaScript string one byte per character (U+0000 to U+00FF), as Node's
 * `latin1` encoding reads and writes it. Reading bytes into one and writing it out again are plain copies, with no
 * decoding or encoding on the way, and V8 stores it in one byte per character. Export entries travel from the COPY
 * stream to request bodies this way; a byte string must be decoded before it is shown or compared as text.
 */

/** The UTF-8 encoding of `text` as a byte string. */
export function toByteString(text: string): string {
  return isAscii(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

/** The text a byte string encodes. */
export function fromByteString(bytes: string): string {
  return isAscii(bytes) ? bytes : Buffer.from(bytes, 'latin1').toString('utf8');
}

// eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
const NON_ASCII = /[^\u0000-\u007f]/;

/** ASCII text is its own byte string. */
export function isAscii(text: string): boolean {
  return !NON_ASCII.test(text);
}
