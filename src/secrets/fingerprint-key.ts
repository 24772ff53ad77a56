import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileErrorReason, UsageError } from '../errors.js';

/** The variable holding the operator's fingerprint key (a key file is the other way). */
export const FINGERPRINT_KEY_ENV = 'API7_AUDIT_FINGERPRINT_KEY';

/**
 * The fingerprint key: a key file (--fingerprint-key-file, else secrets.fingerprint_key_file in the config file),
 * else API7_AUDIT_FINGERPRINT_KEY; undefined when none is set. A file's one trailing newline is not part of the key.
 */
export async function readFingerprintKey(
  keyFile: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
  what = '--fingerprint-key-file',
  warn: (line: string) => void = () => undefined,
): Promise<string | undefined> {
  if (keyFile !== undefined) {
    const path = resolve(cwd, keyFile);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (error instanceof Error && 'code' in error) throw new UsageError(`cannot read ${what} '${keyFile}': ${fileErrorReason(error)}`);
      throw error;
    }
    const key = text.replace(/\r?\n$/, '');
    if (key === '') throw new UsageError(`${what} '${keyFile}' is empty`);
    // With the key, anyone can test guesses of a secret against its fingerprint: it must be as private as the secrets.
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) warn(`warning: ${what} '${keyFile}' is readable by other users (mode 0${mode.toString(8)}): chmod 600 it; with the key, a guessable secret can be found from its fingerprint`);
    return key;
  }
  const key = env[FINGERPRINT_KEY_ENV];
  return key === undefined || key === '' ? undefined : key;
}

export const NO_FINGERPRINT_KEY = `secret fingerprints need a key: set ${FINGERPRINT_KEY_ENV} or give --fingerprint-key-file FILE`;
