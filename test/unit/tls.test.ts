import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { askingSocket, describeTlsFailure, sslAttempts, TlsConnectError } from '../../src/db/tls.js';
import { resolveTls, stripTlsParams } from '../../src/config/tls-settings.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
let home: string;
let empty: string;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'api7-tls-unit-'));
  home = join(dir, 'home');
  empty = join(dir, 'empty');
  await mkdir(join(home, '.postgresql'), { recursive: true });
  await mkdir(empty);
  await writeFile(join(home, '.postgresql', 'root.crt'), PEM);
  await writeFile(join(dir, 'named.crt'), PEM);
});

afterAll(async () => {
  await rm(join(home, '..'), { recursive: true, force: true });
});

const url = (params: string) => `postgres://u@db.internal:5432/d${params ? `?${params}` : ''}`;

describe('resolveTls', () => {
  it('defaults to prefer: asks for TLS on the first socket, then TLS without verification, then plain', () => {
    const tls = resolveTls(url(''), { HOME: empty });
    expect(tls).toMatchObject({ mode: 'prefer', modeSource: 'the default sslmode=prefer' });
    expect(sslAttempts(tls)).toEqual([{ ssl: false, stream: askingSocket }, { ssl: { rejectUnauthorized: false } }, { ssl: false }]);
  });

  it('allow tries plain first; disable only plain', () => {
    expect(sslAttempts(resolveTls(url('sslmode=allow'), { HOME: empty }))).toEqual([{ ssl: false }, { ssl: { rejectUnauthorized: false } }]);
    expect(sslAttempts(resolveTls(url('sslmode=disable'), { HOME: home }))).toEqual([{ ssl: false }]);
  });

  it('the URL beats PGSSLMODE, which beats the default', () => {
    expect(resolveTls(url('sslmode=disable'), { PGSSLMODE: 'require', HOME: empty }).mode).toBe('disable');
    expect(resolveTls(url(''), { PGSSLMODE: 'require', HOME: empty })).toMatchObject({ mode: 'require', modeSource: 'PGSSLMODE=require' });
    expect(resolveTls(undefined, { PGSSLMODE: 'allow', HOME: empty }).mode).toBe('allow');
  });

  it('rejects unknown modes (pg\'s no-verify among them) and pg\'s ssl parameter, naming the value', () => {
    expect(() => resolveTls(url('sslmode=bogus'), {})).toThrow(new UsageError("invalid sslmode in the database URL 'bogus': expected one of disable, allow, prefer, require, verify-ca, verify-full"));
    expect(() => resolveTls(url(''), { PGSSLMODE: 'no-verify' })).toThrow(/^invalid PGSSLMODE 'no-verify'/);
    expect(() => resolveTls(url('ssl=true'), {})).toThrow(/unsupported URL parameter 'ssl=true'/);
  });

  it('require with ~/.postgresql/root.crt verifies the chain but not the host (libpq: as verify-ca)', () => {
    const attempt = sslAttempts(resolveTls(url('sslmode=require'), { HOME: home }))[0]?.ssl;
    expect(attempt).toMatchObject({ ca: PEM });
    expect(attempt && attempt.rejectUnauthorized).toBeUndefined();
    expect(attempt && attempt.checkServerIdentity?.('db.internal', {} as never)).toBeUndefined();
  });

  it('verify-full checks the host: no checkServerIdentity override', () => {
    const attempts = sslAttempts(resolveTls(url(`sslmode=verify-full&sslrootcert=${join(home, '..', 'named.crt')}`), { HOME: empty }));
    expect(attempts).toEqual([{ ssl: { ca: PEM } }]);
  });

  it('verify modes need a root certificate; a named file must be readable; system needs verify-full', () => {
    expect(() => resolveTls(url('sslmode=verify-ca'), { HOME: empty })).toThrow(/needs the CA that signed the server's certificate/);
    expect(() => resolveTls(url('sslrootcert=/nonexistent.crt'), { HOME: empty })).toThrow("cannot read sslrootcert in the URL '/nonexistent.crt': no such file");
    expect(() => resolveTls(url(''), { PGSSLROOTCERT: '/nonexistent.crt', HOME: empty })).toThrow("cannot read PGSSLROOTCERT '/nonexistent.crt': no such file");
    expect(() => resolveTls(url('sslmode=verify-ca&sslrootcert=system'), {})).toThrow(/sslrootcert=system needs sslmode=verify-full/);
    expect(resolveTls(url('sslrootcert=system'), {})).toMatchObject({ mode: 'verify-full', rootFile: 'system' });
  });
});

describe('stripTlsParams', () => {
  it('removes only libpq\'s TLS parameters, and leaves a URL without them untouched', () => {
    expect(stripTlsParams('postgres://u:p@h:5432/d?sslmode=require&application_name=x&sslrootcert=/a')).toBe('postgres://u:p@h:5432/d?application_name=x');
    const plain = 'postgres://u:p%40ss@h/d?application_name=x';
    expect(stripTlsParams(plain)).toBe(plain);
  });
});

describe('describeTlsFailure', () => {
  const tls = { mode: 'verify-ca' as const, modeSource: 'sslmode=verify-ca in the URL', rootFile: '/etc/ca.crt', ca: PEM };
  it('names the root file for an untrusted chain, the mode for a refused SSLRequest, and leaves other errors alone', () => {
    const chain = describeTlsFailure(Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), tls);
    expect(chain).toBeInstanceOf(TlsConnectError);
    expect((chain as Error).message).toBe("the server's certificate is not trusted by sslrootcert '/etc/ca.crt' (sslmode=verify-ca in the URL): unable to verify the first certificate");
    const refused = describeTlsFailure(new Error('The server does not support SSL connections'), tls);
    expect((refused as Error).message).toBe('the server does not accept SSL connections, which sslmode=verify-ca in the URL requires');
    const other = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(describeTlsFailure(other, tls)).toBe(other);
  });
});
