import { describe, expect, it } from 'vitest';
import { excerpt, HttpClient } from '../../src/sinks/http.js';
import { knownDatadogSite } from '../../src/sinks/datadog.js';

describe('excerpt', () => {
  it('shows terminal escapes, BEL, C1 and bidi overrides as text, on one line', () => {
    const quoted = excerpt('a\u001b]0;title\u0007\r\nb\u009bc\u202ed\u2066e\tf');
    expect(quoted).toBe('a\\u001b]0;title\\u0007 b\\u009bc\\u202ed\\u2066e f');
  });

  it('cuts at max characters after escaping, never half a surrogate pair', () => {
    expect(excerpt('\u001b'.repeat(1000), 300)).toHaveLength(301);
    expect(excerpt(`${'x'.repeat(299)}🚀tail`, 300)).toBe(`${'x'.repeat(299)}…`);
    expect(excerpt('short', 300)).toBe('short');
  });

  it('says a reply longer than it reads was cut, even when what it read collapses to little', () => {
    expect(excerpt(`${' '.repeat(70_000)}end`, 300)).toBe('…');
  });
});

describe('HttpClient.quote', () => {
  it('redacts a credential before cutting, so no part of one straddling the cut is shown', async () => {
    const token = 'tok-Abcdefghijkl';
    const client = new HttpClient(new URL('http://127.0.0.1:9'), {}, [token]);
    try {
      const quoted = client.quote(`${'x'.repeat(294)} ${token} rest`);
      expect(quoted).not.toContain('tok-');
      expect(quoted.endsWith('…')).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe('knownDatadogSite', () => {
  it('takes the sites, any case, and nothing that could name another host', () => {
    expect(knownDatadogSite(' DatadogHQ.eu ')).toBe('datadoghq.eu');
    expect(knownDatadogSite('us2.ddog-gov.com')).toBe('us2.ddog-gov.com');
    for (const bad of ['datadoghq.com@127.0.0.1', 'datadoghq.com:443', 'datadoghq.com/', '.datadoghq.com', 'x.datadoghq.com', 'datadoghq.co']) {
      expect(knownDatadogSite(bad)).toBeUndefined();
    }
  });
});
