import type { GlobalFlags } from '../../config/resolve-config.js';
import { UsageError } from '../../errors.js';
import type { CliIo } from '../../io.js';
import { secretFingerprint } from '../../secrets/policy.js';
import { NO_FINGERPRINT_KEY, readFingerprintKey } from '../../secrets/fingerprint-key.js';

/** Longer than any credential; a bigger input is a mistake (a whole file piped in), not a secret. */
const MAX_VALUE_BYTES = 1024 * 1024;

/**
 * Prints `hmac-sha256:<12 hex>` of the value read from stdin, as masked output shows it under the same key, so an
 * auditor can grep the history for a leaked value without writing it anywhere. The value is never taken from argv,
 * where other users and shell history would see it.
 */
export async function runSecretFingerprint(global: GlobalFlags, io: CliIo): Promise<void> {
  const key = await readFingerprintKey(global.fingerprintKeyFile, io.env, io.cwd, undefined, (line) => io.stderr.write(`${line}\n`));
  if (key === undefined) throw new UsageError(NO_FINGERPRINT_KEY);
  const stdin = io.stdin;
  if (stdin === undefined) throw new UsageError('secret-fingerprint --stdin: no stdin to read');
  if (stdin.isTTY === true && io.stderrIsTty) io.stderr.write('reading the value from the terminal (it shows as you type); end with Enter and Ctrl-D\n');
  const value = (await readAll(stdin)).replace(/\r?\n$/, '');
  if (value === '') throw new UsageError('secret-fingerprint --stdin: stdin held no value');
  io.stdout.write(`${secretFingerprint(value, key)}\n`);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_VALUE_BYTES) throw new UsageError(`secret-fingerprint --stdin: more than ${MAX_VALUE_BYTES} bytes on stdin; expected one value`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
