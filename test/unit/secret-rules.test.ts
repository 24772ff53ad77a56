import { describe, expect, it } from 'vitest';
import { createSecretPolicy, maskSecrets } from '../../src/secrets/policy.js';
import { camelCaseName, isSecretName, normalizeSecretKey } from '../../src/secrets/rules.js';
import { maskSecretsInText } from '../../src/secrets/value-rules.js';

const keys = createSecretPolicy().keys;
const secretName = (key: string) => isSecretName(normalizeSecretKey(key), keys, camelCaseName(key));
const masked = (text: string) => maskSecretsInText(text, () => '******');

describe('the last-word rule', () => {
  it.each(['db_password', 'adminPassword', 'jwt_secret', 'github_token', 'apiToken', 'x-api-token', 'webhook_secret', 'encryption_key', 'proxy_password',
    'PROXY_PASSWORD', 'Openai-Api-Key', 'sshPrivateKey', 'aws_secret_key', 'jwt_signing_key', 'x_apikey', 'vault_passphrase', 'Authorization ',
    // Words run together: the name ends in a secret word whatever comes before it.
    'dbpassword', 'adminpassword', 'githubtoken', 'webhooksecret', 'csrftoken', 'DBPASSWORD', 'rootpasswd', 'gpgpassphrase', 'clientsecret', 'openaiapikey',
    'sshprivatekey', 'awssecretkey', 'jwtsigningkey', 'dataencryptionkey', 'dbPassWord', 'db.password', 'DB Password', 'x-csrftoken',
    // A list of them, by its plural name.
    'tokens', 'access_tokens', 'refreshTokens', 'api-tokens'])('%s is a secret', (key) => {
    expect(secretName(key)).toBe(true);
  });

  it.each(['token_ttl', 'password_min_length', 'secret_ref', 'max_tokens', 'cache_key', 'tokenizer', 'passwordless', 'key', 'access_key', 'secret_name_prefix',
    // Ending in `oken` is not ending in `token`; a plural, a word that only starts with one, `key` alone stay readable.
    'total_tokens', 'maxTokens', 'broken', 'spoken', 'token_type', 'token_endpoint', 'secretary', 'secret_refs', 'passwordPolicy', 'publickey',
    'public_key', 'monkey', 'hockey', 'cachekey', 'private key'])('%s is not', (key) => {
    expect(secretName(key)).toBe(false);
  });

  it('applies only to the words the policy holds: replace mode without `token` leaves github_token readable', () => {
    const replace = createSecretPolicy({ mode: 'replace', keys: ['password'] });
    expect(isSecretName('db_password', replace.keys)).toBe(true);
    expect(isSecretName('github_token', replace.keys)).toBe(false);
    expect(isSecretName('dbpassword', replace.keys)).toBe(true);
    expect(isSecretName('githubtoken', replace.keys)).toBe(false);
    const apiKey = createSecretPolicy({ mode: 'replace', keys: ['api_key'] });
    expect(['openaiapikey', 'openai_apikey', 'openai_api_key'].map((name) => isSecretName(name, apiKey.keys))).toEqual([true, true, true]);
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
    // Digits then `/`, `?` or `#` after the colon, with an `@` later: a password (a raw `/` in it), not a port.
    ['redis://:1234/x@host', 'redis://:******@host'],
    ['https://user:123456/abc@host', 'https://user:******@host'],
    ['https://u:8080/x@db.example/app', 'https://u:******@db.example/app'],
    ['https://u:12?x@host/p', 'https://u:******@host/p'],
    ['https://u:12#x@host', 'https://u:******@host'],
    ['redis://:1234/@host', 'redis://:******@host'],
    ['https://u:abc/@host', 'https://u:******@host'],
    // The password runs to the last `@`: a raw `@` then `/` in it stays masked; a user may hold an `@` (an e-mail).
    ['https://u:p@ss/word@host/x', 'https://u:******@host/x'],
    ['https://bob@corp.example:S3cr3t@jira.example/x', 'https://bob@corp.example:******@jira.example/x'],
    // What can't be told from a sloppy password is masked with it: a path holding an `@` after a port.
    ['https://api.example:8443/v1/users?email=a@b.example', 'https://api.example:******@b.example'],
    // A user without a password that looks like a token: an issuer's prefix, or 20+ token characters with a digit.
    ['https://glpat-AbCdEfGh1234567890xy@gitlab.example/g/p.git', 'https://******@gitlab.example/g/p.git'],
    ['https://xoxb-1234-5678-abcdef@hooks.example/x', 'https://******@hooks.example/x'],
    ['https://sk-proj-abc@api.example', 'https://******@api.example'],
    ['https://github_pat_11ABC@github.com/o/r.git', 'https://******@github.com/o/r.git'],
    ['https://0123456789abcdef0123456789abcdef01234567@github.com/o/r.git', 'https://******@github.com/o/r.git'],
    ['git+https://ghp_S3cr3t@github.com/o/r.git', 'git+https://******@github.com/o/r.git'],
    ['wss://AbCdEf0123456789GhIjKl@ws.example/socket', 'wss://******@ws.example/socket'],
    ['https://ghp_S3cr3t@github.com:443/@x', 'https://******@github.com:443/@x'],
    // A token as the user beside a password (GitHub's documented form): both masked; a user name beside one stays.
    ['https://ghp_S3cr3t:x-oauth-basic@github.com/o/r.git', 'https://******:******@github.com/o/r.git'],
    ['https://oauth2:glpat-S3cr3t@gitlab.example/g/p.git', 'https://oauth2:******@gitlab.example/g/p.git'],
    // Several URLs in one run of text: the password runs to the last `@`, hiding the hosts between (in doubt).
    ['redis://:p1@h1,redis://:p2@h2', 'redis://:******@h2'],
    ['a https://u:p1@h1/x and https://v:p2@h2/y', 'a https://u:******@h1/x and https://v:******@h2/y'],
  ])('%s', (text, expected) => {
    expect(masked(text)).toBe(expected);
  });

  it.each([
    'https://port.example:8443/@me', 'ssh://git@github.com/org/repo.git', 'postgres://app@db:5432/x', 'https://h.example/?page=2&sort=name',
    'Bearer tokens are supported', 'token_ttl=3600', 'password_min_length=12', 'the key to success',
    // A port, then a path whose segment starts with `@`; ordinary user names of web URLs.
    'https://reg.example:4873/npm/@scope/pkg', 'https://h.example:8443?next=/@me', 'https://git@github.com/org/repo.git', 'https://alice@example.com',
    'https://first.last@example.com/x', 'https://deploy-bot@ci.example', 'https://user123@h.example', 'wss://svc-account@ws.example', 'https://alice@example.com:8443/x',
    'https://h.example/npm/pkg@1.2.3/x.js', 'see https://h.example:8443/x and mail me@h.example',
  ])('%s stays readable', (text) => {
    expect(masked(text)).toBe(text);
  });

  it('reads a long text once: many URLs, or a long scheme, in one run without spaces take linear time', () => {
    const texts = ['https://u:1/'.repeat(20_000), 'https://u:a/'.repeat(20_000), `${'a'.repeat(100_000)}://u:${'x'.repeat(100_000)}`, 'https://u/'.repeat(20_000),
      `${'https://u:a/'.repeat(20_000)}@h`];
    const start = process.cpuUsage();
    for (const text of texts) masked(text);
    const used = process.cpuUsage(start);
    // Read again from every start, the second and third took 8 and 16 s of CPU; read once, each takes a few ms.
    expect((used.user + used.system) / 1000).toBeLessThan(500);
    expect(masked(`${'https://u:a/'.repeat(3)}@h`)).toBe('https://u:******@h');
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
