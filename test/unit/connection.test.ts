import { describe, expect, it } from 'vitest';
import { isLoopbackTarget, maskUrl, resolveConnectionTarget } from '../../src/config/connection-url.js';
import { translateConnectionError } from '../../src/db/connect.js';
import { redactSecrets } from '../../src/secrets/redact.js';
import { RuntimeError, UsageError } from '../../src/errors.js';

describe('connection target precedence', () => {
  const env = { API7_AUDIT_DATABASE_URL: 'postgres://a@h/a', DATABASE_URL: 'postgres://b@h/b', PGHOST: 'pghost', PGPORT: '6543' };
  it('--db beats every environment variable and the config file', () => {
    expect(resolveConnectionTarget('postgres://flag@h/f', env, 'postgres://file@h/c')).toMatchObject({ url: 'postgres://flag@h/f', source: '--db' });
  });
  it('API7_AUDIT_DATABASE_URL, then DATABASE_URL, then the config file, then libpq variables', () => {
    expect(resolveConnectionTarget(undefined, env, 'postgres://file@h/c').source).toBe('API7_AUDIT_DATABASE_URL');
    expect(resolveConnectionTarget(undefined, { ...env, API7_AUDIT_DATABASE_URL: '' }, 'postgres://file@h/c').source).toBe('DATABASE_URL');
    expect(resolveConnectionTarget(undefined, { PGHOST: 'x' }, 'postgres://file@h/c').source).toBe('config file');
    expect(resolveConnectionTarget(undefined, { PGHOST: 'pghost', PGPORT: '6543' }, undefined)).toMatchObject({
      source: 'PG* variables',
      libpq: { host: 'pghost', port: 6543 },
    });
  });
  it('rejects a URL of another scheme without showing its password', () => {
    expect(() => resolveConnectionTarget('mysql://u:topsecret@h/d', {}, undefined)).toThrow(UsageError);
    expect(() => resolveConnectionTarget('mysql://u:topsecret@h/d', {}, undefined)).not.toThrow(/topsecret/);
    expect(() => resolveConnectionTarget(undefined, { PGPORT: 'abc' }, undefined)).toThrow(`invalid PGPORT 'abc'`);
  });
});

describe('secrets in messages', () => {
  it('masks URL passwords, encoded or not', () => {
    expect(maskUrl('postgres://u:p%40ss@h:5432/d?sslmode=require')).toBe('postgres://u:***@h:5432/d?sslmode=require');
    expect(maskUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
  });
  it('redacts a registered password wherever a library repeats it', () => {
    resolveConnectionTarget('postgres://u:W1ld%2Fcard@h/d', {}, undefined);
    expect(redactSecrets('auth failed for W1ld/card and W1ld%2Fcard')).toBe('auth failed for ****** and ******');
  });
  it('turns a refused connection into one runtime error naming the masked target', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const target = { url: 'postgres://u:pw@127.0.0.1:1/d', libpq: {}, source: '--db' as const };
    const translated = translateConnectionError(error, target);
    expect(translated).toBeInstanceOf(RuntimeError);
    expect((translated as Error).message).toBe('cannot connect to PostgreSQL at 127.0.0.1:1/d (from --db): connect ECONNREFUSED 127.0.0.1:1');
    const syntax = Object.assign(new Error('syntax error'), { code: '42601' });
    expect(translateConnectionError(syntax, target)).toBe(syntax);
  });
});

describe('isLoopbackTarget (doctor: TLS off matters only where a network carries the connection)', () => {
  const target = (url?: string, env: Record<string, string> = {}) => resolveConnectionTarget(url, env, undefined) as NonNullable<ReturnType<typeof resolveConnectionTarget>>;
  it.each(['postgres://u@127.0.0.1/db', 'postgres://u@127.8.9.10:6432/db', 'postgres://u@localhost/db', 'postgres://u@[::1]:5432/db', 'postgres:///db?host=/var/run/postgresql&user=u', 'postgres://u@%2Frun%2Fpostgresql/db'])('%s stays on this machine', (url) => {
    expect(isLoopbackTarget(target(url))).toBe(true);
  });
  it.each(['postgres://u@db.example/db', 'postgres://u@10.0.0.5/db', 'postgres://u@127.0.0.1.example.com/db', 'postgres://u@[::2]/db', 'postgres://u@128.0.0.1/db'])('%s crosses a network', (url) => {
    expect(isLoopbackTarget(target(url))).toBe(false);
  });
  it('libpq variables: PGHOST=localhost is loopback, PGHOST=db.internal is not', () => {
    expect(isLoopbackTarget(target(undefined, { PGHOST: 'localhost' }))).toBe(true);
    expect(isLoopbackTarget(target(undefined, { PGHOST: 'db.internal' }))).toBe(false);
  });
});
