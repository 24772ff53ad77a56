import { describe, expect, it } from 'vitest';
import { maskUrl, resolveConnectionTarget } from '../../src/config/connection-url.js';
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
