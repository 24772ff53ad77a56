import { describe, expect, it } from 'vitest';
import { describeSource, maskUrl, NO_DATABASE_MESSAGE, passwordOnArgvWarning, resolveConnectionTarget } from '../../src/config/connection-url.js';
import { defaultConfigFiles } from '../../src/config/resolve-config.js';
import { UsageError } from '../../src/errors.js';

describe('maskUrl hides every form of a password', () => {
  it.each([
    ['postgres://u:Pa/ssw0rd#1@h:5432/d', 'postgres://u:***@h:5432/d'],
    ['postgres://u:Pa@ss@h/d', 'postgres://u:***@h/d'],
    ['postgres://u:a?b=c@h/d?sslmode=require', 'postgres://u:***@h/d?sslmode=require'],
    ['postgres://u@h/d?sslmode=require&password=Qp-9x&application_name=a', 'postgres://u@h/d?sslmode=require&password=***&application_name=a'],
    ['host=h password=\'se cret\' dbname=d', 'host=h password=*** dbname=d'],
    ['postgres://u@h:5432/d', 'postgres://u@h:5432/d'],
    ['postgres://h:5432/d', 'postgres://h:5432/d'],
  ])('%s', (url, masked) => {
    expect(maskUrl(url)).toBe(masked);
  });
});

describe('where the target came from', () => {
  it('names the config file, or the PG* variables that are set', () => {
    expect(describeSource(resolveConnectionTarget(undefined, {}, 'postgres://u@h/d', '/etc/api7-audit/config.yaml'))).toBe(
      "config file '/etc/api7-audit/config.yaml'",
    );
    expect(describeSource(resolveConnectionTarget(undefined, { PGHOST: 'h', PGDATABASE: 'd' }, undefined))).toBe('PGHOST, PGDATABASE');
  });
  it('nothing set (PGPASSWORD alone names no server) is a UsageError', () => {
    expect(() => resolveConnectionTarget(undefined, { PGPASSWORD: 'x', USER: 'root' }, undefined)).toThrow(UsageError);
    expect(() => resolveConnectionTarget(undefined, {}, undefined)).toThrow(NO_DATABASE_MESSAGE);
  });
  it('warns for a password on argv, in the user info or the query', () => {
    expect(passwordOnArgvWarning('postgres://u:p@h/d')).toMatch(/^warning: a password in --db/);
    expect(passwordOnArgvWarning('postgres://u@h/d?password=p')).toMatch(/^warning: a password in --db/);
    expect(passwordOnArgvWarning('postgres://u@h/d')).toBeUndefined();
    expect(passwordOnArgvWarning(undefined)).toBeUndefined();
  });
});

describe('default config file locations', () => {
  it('$XDG_CONFIG_HOME, else ~/.config, then /etc; never the working directory', () => {
    expect(defaultConfigFiles({ XDG_CONFIG_HOME: '/x', HOME: '/home/u' })).toEqual(['/x/api7-audit/config.yaml', '/etc/api7-audit/config.yaml']);
    expect(defaultConfigFiles({ HOME: '/home/u' })).toEqual(['/home/u/.config/api7-audit/config.yaml', '/etc/api7-audit/config.yaml']);
    // A relative XDG_CONFIG_HOME is invalid by the XDG specification and ignored.
    expect(defaultConfigFiles({ XDG_CONFIG_HOME: 'rel', HOME: '/home/u' })[0]).toBe('/home/u/.config/api7-audit/config.yaml');
  });
});
