import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileErrorReason, UsageError } from '../errors.js';

/** The variable holding the operator's fingerprint key (a key file is the other way). */
export const FINGERPRINT_KEY_ENV = 'API7_AUDIT_FINGERPRINT_KEY';

/**
 * The fingerprint key: a key file (--fingerprint-key-file, else secrets.fingerprint_key_file in the config file),
 * else API7_AUDIT_FINGERPRINT_KEY; undefined when none is set. A file's one trailing newline is not part of the key.
 */
export async function readFingerprintKey(keyFile: string | undefined, env: NodeJS.ProcessEnv, cwd: string, what = '--fingerprint-key-file'): Promise<string | undefined> {
  if (keyFile !== undefined) {
    let text: string;
    try {
      text = await readFile(resolve(cwd, keyFile), 'utf8');
    } catch (error) {
      if (error instanceof Error && 'code' in error) throw new UsageError(`cannot read ${what} '${keyFile}': ${fileErrorReason(error)}`);
      throw error;
    }
    const key = text.replace(/\r?\n$/, '');
    if (key === '') throw new UsageError(`${what} '${keyFile}' is empty`);
    return key;
  }
  const key = env[FINGERPRINT_KEY_ENV];
  return key === undefined || key === '' ? undefined : key;
}

export const NO_FINGERPRINT_KEY = `secret fingerprints need a key: set ${FINGERPRINT_KEY_ENV} or give --fingerprint-key-file FILE`;
