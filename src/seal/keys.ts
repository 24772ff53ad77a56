import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readFile, stat } from 'node:fs/promises';
import { fileErrorReason, UsageError } from '../errors.js';

/** The signing key of a seal run and the public key and id that records name. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/** A key as verify trusts it: only ever from a file the auditor keeps, never from the store. */
export interface TrustedKey {
  publicKey: KeyObject;
  keyId: string;
}

/** The first 16 hex digits of the SHA-256 of the public key's DER (SubjectPublicKeyInfo): short, printable, stable. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Creates an Ed25519 key pair: the private key in `path` (PKCS#8 PEM, mode 0600, never over an existing file) and the
 * public key in `path.pub`. Returns the public key for printing.
 */
export async function createKeyFiles(path: string): Promise<TrustedKey & { publicPath: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicPath = `${path}.pub`;
  // Both names are checked first: a private key written beside a .pub that refused would be one nobody can check.
  for (const [taken, what] of [[path, `--key '${path}'`], [publicPath, `--key '${path}': its public key '${publicPath}'`]] as const) {
    if (await lstat(taken).then(() => true, () => false)) throw new UsageError(`${what} already exists; a new key is never written over another (move it away first)`);
  }
  await writeNew(path, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600, '--key');
  await writeNew(publicPath, publicKeyPem(publicKey), 0o644, '--key');
  return { publicKey, keyId: keyIdOf(publicKey), publicPath };
}

async function writeNew(path: string, text: string, mode: number, flag: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${flag} '${path}' already exists; a new key is never written over another (move it away first)`);
    if (code === 'ENOENT') throw new UsageError(`cannot write ${flag} '${path}': its directory does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new UsageError(`cannot write ${flag} '${path}': permission denied`);
    throw error;
  }
  try {
    await handle.chmod(mode);
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads the Ed25519 private key of `--key FILE`, refusing one that other users may read. */
export async function readSigningKey(path: string, flag = '--key'): Promise<SigningKey> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${flag} '${path}': ${error.code === 'ENOENT' ? 'no such file (create one with seal --new-key)' : error.code}`);
  });
  if ((info.mode & 0o077) !== 0) {
    throw new UsageError(`${flag} '${path}' is open to other users (mode 0${(info.mode & 0o777).toString(8)}); a signing key must be private: chmod 600 it`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(await readFile(path));
  } catch {
    throw new UsageError(`${flag} '${path}' is not a private key in PEM (create one with seal --new-key)`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new UsageError(`${flag} '${path}' is a ${privateKey.asymmetricKeyType} key; seals are signed with Ed25519`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** Reads the public key an auditor keeps (`--public-key FILE`, the `.pub` that seal --new-key wrote). */
export async function readTrustedKey(path: string, flag = '--public-key'): Promise<TrustedKey> {
  const text = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${flag} '${path}': ${fileErrorReason(error)}`);
  });
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(text);
  } catch {
    throw new UsageError(`${flag} '${path}' is not a public key in PEM (the .pub file seal --new-key wrote)`);
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new UsageError(`${flag} '${path}' is a ${publicKey.asymmetricKeyType} key; seals are signed with Ed25519`);
  return { publicKey, keyId: keyIdOf(publicKey) };
}

/** Ed25519 signature of `payload`'s UTF-8 bytes, base64. */
export function signText(key: SigningKey, payload: string): string {
  return sign(null, Buffer.from(payload, 'utf8'), key.privateKey).toString('base64');
}

export function verifyText(key: TrustedKey, payload: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(payload, 'utf8'), key.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
