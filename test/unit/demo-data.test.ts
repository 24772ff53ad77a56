import { describe, expect, it } from 'vitest';
import { DEMO_WINDOW_SECONDS, generateDemoEntries, type DemoEntry } from '../../src/demo/data.js';

const entries = generateDemoEntries();
const DAY = 86_400;

function distinct<T>(pick: (entry: DemoEntry) => T): Set<T> {
  return new Set(entries.map(pick));
}

function ofType(type: string, operation?: string): DemoEntry[] {
  return entries.filter((e) => e.resource_type === type && (operation === undefined || e.operation === operation));
}

describe('generateDemoEntries', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateDemoEntries({ count: 300 })).toEqual(generateDemoEntries({ count: 300 }));
    expect(generateDemoEntries()).toEqual(entries);
    expect(generateDemoEntries({ count: 300, seed: 8 })).not.toEqual(generateDemoEntries({ count: 300 }));
  });

  it('produces exactly the requested count, 6000 by default', () => {
    expect(entries).toHaveLength(6000);
    expect(generateDemoEntries({ count: 25 })).toHaveLength(25);
  });

  it('has at least 8 operators, people and automation, with a skewed distribution', () => {
    const counts = new Map<string, number>();
    for (const e of entries) counts.set(e.operator, (counts.get(e.operator) ?? 0) + 1);
    expect(counts.size).toBeGreaterThanOrEqual(8);
    expect([...counts.keys()]).toEqual(expect.arrayContaining(['alice', 'apikey:ci-deployer', 'adc-sync']));
    const sorted = [...counts.values()].sort((a, b) => b - a);
    expect(sorted[0]).toBeGreaterThan(5 * (sorted.at(-1) ?? 0));
  });

  it('covers the operations, resource types and sources', () => {
    expect([...distinct((e) => e.operation)]).toEqual(
      expect.arrayContaining(['CREATE', 'UPDATE', 'DELETE', 'LOGIN', 'LOGOUT', 'PUBLISH', 'ROLLBACK', 'PATCH']),
    );
    expect([...distinct((e) => e.resource_type)]).toEqual(
      expect.arrayContaining(['route', 'service', 'upstream', 'ssl', 'consumer', 'credential', 'plugin_metadata',
        'global_rule', 'gateway_group', 'user']),
    );
    expect(distinct((e) => e.source)).toEqual(new Set(['dashboard', 'api', 'adc']));
  });

  it('uses both IPv4 and IPv6 source addresses from documentation and private ranges', () => {
    const ips = [...distinct((e) => e.source_ip)];
    expect(ips.some((ip) => /^(10|192\.0\.2|198\.51\.100)\.[\d.]+$/.test(ip))).toBe(true);
    expect(ips.some((ip) => ip.startsWith('2001:db8:'))).toBe(true);
    expect(ips.every((ip) => /^(10\.|192\.0\.2\.|198\.51\.100\.|2001:db8:)/.test(ip))).toBe(true);
  });

  it('gives CREATE no before, DELETE no after, and sessions neither', () => {
    for (const e of entries) {
      if (e.operation === 'CREATE') expect([e.before, typeof e.after]).toEqual([null, 'object']);
      if (e.operation === 'DELETE') expect([typeof e.before, e.after]).toEqual(['object', null]);
      if (e.operation === 'LOGIN' || e.operation === 'LOGOUT') {
        expect([e.resource_type, e.before, e.after]).toEqual(['user', null, null]);
      }
    }
  });

  it('makes every UPDATE change something, and its before the last after of the same resource', () => {
    const last = new Map<string, unknown>();
    for (const e of entries) {
      const key = `${e.resource_type}/${e.resource_id}`;
      if (e.operation === 'UPDATE' || e.operation === 'PATCH') {
        expect(e.after).not.toEqual(e.before);
        if (last.has(key)) expect(e.before).toEqual(last.get(key));
      }
      if (e.operation === 'DELETE') last.delete(key);
      else if (e.operation === 'CREATE' || e.operation === 'UPDATE' || e.operation === 'PATCH') last.set(key, e.after);
    }
  });

  it('spreads ages over 120 days, oldest first, denser recently', () => {
    const ages = entries.map((e) => e.ageSeconds);
    expect(Math.min(...ages)).toBeGreaterThan(0);
    expect(Math.max(...ages)).toBeLessThanOrEqual(DEMO_WINDOW_SECONDS);
    expect(Math.max(...ages)).toBeGreaterThan(100 * DAY);
    expect(ages.every((age, i) => i === 0 || age < (ages[i - 1] ?? Infinity))).toBe(true);
    const lastWeek = ages.filter((age) => age < 7 * DAY).length;
    expect(lastWeek).toBeGreaterThanOrEqual(50);
    expect(lastWeek / 7).toBeGreaterThan(ages.filter((age) => age > 60 * DAY).length / 60);
    expect(ages.filter((age) => age < DAY).length).toBeGreaterThan(0);
  });

  it('shapes bodies like API7 resources, secrets included', () => {
    const ssl = ofType('ssl', 'CREATE')[0]?.after;
    expect(ssl).toMatchObject({ type: 'server', snis: expect.any(Array) });
    expect(ssl?.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----$/);
    expect(ssl?.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const keys = ofType('consumer').map((e) => (e.after ?? e.before)?.plugins as Record<string, { key?: string }>);
    expect(keys.some((plugins) => typeof plugins['key-auth']?.key === 'string')).toBe(true);
    expect(ofType('route', 'CREATE')[0]?.after).toMatchObject({ paths: expect.any(Array), methods: expect.any(Array),
      service_id: expect.any(String), plugins: expect.any(Object) });
    const service = ofType('service', 'CREATE')[0]?.after;
    expect(service?.upstream).toMatchObject({ type: expect.any(String), nodes: expect.any(Array) });
  });

  it('holds what the README and --help examples name: alice, entry 5290 and its route', () => {
    // Ids follow the order of the entries; operators are matched exactly, as --operator does.
    const entry = entries[5290 - 1];
    expect(entry).toMatchObject({ operator: 'alice', operation: 'UPDATE', resource_type: 'route', resource_id: 'c0618158' });
    expect(entry?.after).not.toEqual(entry?.before);
    const removed = Object.keys(entry?.before ?? {}).filter((key) => JSON.stringify(entry?.before?.[key]) !== JSON.stringify(entry?.after?.[key]));
    expect(removed.length).toBeGreaterThan(0);
    expect(ofType('route').filter((e) => e.resource_id === 'c0618158').length).toBeGreaterThan(3);
    const lastWeek = entries.filter((e) => e.ageSeconds < 7 * DAY);
    expect(lastWeek.filter((e) => e.operator === 'alice').length).toBeGreaterThan(10);
    expect(lastWeek.filter((e) => ['alice', 'bob'].includes(e.operator) && e.operation === 'DELETE').length).toBeGreaterThan(0);
  });

  it('averages around 1 KB per entry', () => {
    const bytes = entries.reduce((sum, e) => sum + JSON.stringify(e).length, 0) / entries.length;
    expect(bytes).toBeGreaterThan(600);
    expect(bytes).toBeLessThan(1600);
  });
});
