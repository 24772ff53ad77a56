import { seededRandom } from './random.js';
import type { SeedRow } from './database.js';

export const HOSTILE_OPERATOR = `o'brien"; drop table audit_logs; --`;
export const UNICODE_OPERATOR = 'zoë-管理者-🚀';
export const LONG_OPERATOR = 'x'.repeat(10_240);

const OPERATORS = ['alice', 'bob', 'carol', 'apikey:ci', HOSTILE_OPERATOR, UNICODE_OPERATOR, LONG_OPERATOR];
const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'update', 'Delete', 'LOGIN'];
const TYPES = ['route', 'service', 'ssl', 'consumer'];
const IPS = ['10.0.0.5', '10.1.2.3', '192.168.1.9', '203.0.113.7', '2001:db8::1', '2001:db8:1::9', 'fe80::1', null];
const SOURCES = ['dashboard', 'api', 'adc', null];

/**
 * Rows spread over 100 days. Ages are whole days plus 1 to 22 hours plus minutes, so no row sits within seconds of a
 * duration boundary such as 7d and the CLI and the test's own SQL (run a moment apart) agree on every row.
 */
export function varietyRows(count: number, seed = 42): SeedRow[] {
  const random = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const rows: SeedRow[] = [];
  for (let i = 0; i < count; i += 1) {
    const type = pick(TYPES);
    const age = `${Math.floor(random() * 100)} days ${1 + Math.floor(random() * 22)} hours ${Math.floor(random() * 60)} minutes`;
    rows.push({
      age,
      operator: pick(OPERATORS),
      operation: pick(OPERATIONS),
      resource_type: type,
      resource_id: `${type[0]}-${Math.floor(random() * 8)}`,
      resource_name: `${type} ${i}`,
      source_ip: pick(IPS),
      source: pick(SOURCES),
      before: i % 3 === 0 ? null : { name: `${type} ${i}`, plugins: { 'key-auth': { key: `k-${i}` } } },
      after: { name: `${type} ${i}`, desc: 'quote " comma , newline \n done' },
    });
  }
  return rows;
}
