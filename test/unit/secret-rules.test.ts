import { describe, expect, it } from 'vitest';
import { createSecretPolicy, maskSecrets } from '../../src/secrets/policy.js';
import { camelCaseName, isSecretName, normalizeSecretKey } from '../../src/secrets/rules.js';
import { maskSecretsInText } from '../../src/secrets/value-rules.js';

const keys = createSecretPolicy().keys;
const secretName = (key: string) => isSecretName(normalizeSecretKey(key), keys, camelCaseName(key));
const masked = (text: string) => maskSecretsInText(text, () => '******');

describe('the last-word rule', () => {
  it.each(['db_password', 'adminPassword', 'jwt_secret', 'github_token', 'apiToken', 'x-api-token', 'webhook_secret', 'encryption_key', 'proxy_password',
    'PROXY_PASSWORD', 'Openai-Api-Key', 'sshPrivateKey', 'aws_secret_key', 'jwt_signing_key', 'x_apikey', 'vault_passphrase', 'Authorization '])('%s is a secret', (key) => {
    expect(secretName(key)).toBe(true);
  });

  it.each(['token_ttl', 'password_min_length', 'secret_ref', 'max_tokens', 'cache_key', 'tokenizer', 'passwordless', 'key', 'access_key', 'secret_name_prefix'])('%s is not', (key) => {
    expect(secretName(key)).toBe(false);
  });

  it('applies only to the words the policy holds: replace mode without `token` leaves github_token readable', () => {
    const replace = createSecretPolicy({ mode: 'replace', keys: ['password'] });
    expect(isSecretName('db_password', replace.keys)).toBe(true);
    expect(isSecretName('github_token', replace.keys)).toBe(false);
  });

  it('a camelCase secrets.keys entry also names its snake_case reading', () => {
    const policy = createSecretPolicy({ keys: ['vaultRef'] });
    expect(maskSecrets({ vault_ref: 'a', vaultRef: 'b', VAULT_REF: 'c', vault: 'visible' }, policy)).toEqual({ vault_ref: '******', vaultRef: '******', VAULT_REF: '******', vault: 'visible' });
  });
});

describe('secrets in text', () => {
  it.each([
    ['https://h.example/cb?access_token=S3cr3t&x=1', 'https://h.example/cb?access_token=******&x=1'],
    ['https://h.example/f?api_key=S3cr3t', 'https://h.example/f?api_key=******'],
    ['https://s3.example/o?X-Amz-Security-Token=S3cr3t&X-Amz-Signature=abc#top', 'https://s3.example/o?X-Amz-Security-Token=******&X-Amz-Signature=******#top'],
    ['https://ghp_S3cr3t@git.example/org/repo.git', 'https://******@git.example/org/repo.git'],
    ['https://user:pa/ss@db.example/app', 'https://user:******@db.example/app'],
    ['redis://:p@ss@cache:6379/0', 'redis://:******@cache:6379/0'],
    ['host=db user=app password=S3cr3t dbname=app', 'host=db user=app password=****** dbname=app'],
    ["host=db password='two words' dbname=app", 'host=db password=****** dbname=app'],
    ['Server=db;User Id=app;Password=S3cr3t;Database=x', 'Server=db;User Id=app;Password=******;Database=x'],
    ['Bearer abcDEF123456', 'Bearer ******'],
    ['sent with bearer xyz.987654321- today', 'sent with bearer ****** today'],
  ])('%s', (text, expected) => {
    expect(masked(text)).toBe(expected);
  });

  it.each([
    'https://port.example:8443/@me', 'ssh://git@github.com/org/repo.git', 'postgres://app@db:5432/x', 'https://h.example/?page=2&sort=name',
    'Bearer tokens are supported', 'token_ttl=3600', 'password_min_length=12', 'the key to success',
  ])('%s stays readable', (text) => {
    expect(masked(text)).toBe(text);
  });

  it('never masks a mask again (a fingerprint stays the fingerprint of the value)', () => {
    const fingerprint = (value: string) => `******(hmac:${value.length})`;
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln';
    expect(maskSecretsInText(`https://h.example/cb?id_token=${jwt}&state=1`, fingerprint)).toBe(`https://h.example/cb?id_token=******(hmac:${jwt.length})&state=1`);
    expect(maskSecretsInText('Authorization: Bearer abcDEF123456', fingerprint)).toBe('Authorization: ******(hmac:19)');
  });
});

describe('shapes of lists', () => {
  const policy = createSecretPolicy();
  it('a secret name in a name/value list masks its value, whatever the spelling; another name stays', () => {
    const env = [{ name: 'DB_PASSWORD', value: 'a' }, { key: 'API_TOKEN', value: 'b' }, { name: 'githubToken', values: ['c'] }, { name: 'LOG_LEVEL', value: 'debug' }];
    expect(maskSecrets(env, policy)).toEqual([{ name: 'DB_PASSWORD', value: '******' }, { key: 'API_TOKEN', value: '******' }, { name: 'githubToken', values: '******' }, { name: 'LOG_LEVEL', value: 'debug' }]);
  });

  it('["Authorization", value] pairs mask the value; a pair of header names stays', () => {
    expect(maskSecrets([['Authorization', 'Bearer x'], ['X-Api-Key ', 'k'], ['Authorization', 'Cookie'], ['X-Trace', '1']], policy)).toEqual([
      ['Authorization', '******'], ['X-Api-Key ', '******'], ['Authorization', 'Cookie'], ['X-Trace', '1'],
    ]);
  });

  it('plugins as a list of {name, config}: each config by its plugin', () => {
    const plugins = [{ config: { key: 'secret' }, name: 'key-auth' }, { name: 'limit-count', config: { key: 'remote_addr' } }, { name: 'basic-auth', conf: { password: 'p', username: 'u' } }];
    expect(maskSecrets({ plugins }, policy)).toEqual({ plugins: [{ config: { key: '******' }, name: 'key-auth' }, { name: 'limit-count', config: { key: 'remote_addr' } }, { name: 'basic-auth', conf: { password: '******', username: 'u' } }] });
  });
});
