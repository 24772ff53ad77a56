import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldExpression } from '../../src/db/entry-columns.js';
import type { ResolvedMapping } from '../../src/db/mapping.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { seededRandom } from '../support/random.js';

// A text state is cast to json only when the server-side check says the cast will succeed (a failed cast fails the
// whole export). The check must agree with the cast itself: on hostile strings, random JSON-like strings, and
// one-character mutations of valid documents.

const compiler = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});
const mapping = { table: { schema: 'public', name: 't' }, partitioned: false, columns: { after: { name: 'after', type: 'text' } } } as unknown as ResolvedMapping;

const HOSTILE = [
  '{"a":1}', ' [1, 2, {"b": [true,false,null]}] ', '{"a":1,}', '{"a" 1}', '01', '"x', '', '   ', '"\\u0000"', '{"a":"\\ud800"}',
  '[[[[]]]]', '[[[[]]]', '{"a":1}{"b":2}', '-1.5e+3', '1.', '{"k":"tab\tin"}', '{"a":\n1}', '{"a":"\\q"}', 'tru', '{1:2}',
  '{"a":"\t"}', '"" ""', '{"a":"x" "y"}', '"a"', '{"":""}', '["""]', '{s:1}', '[1 2]', '{"a":\r\n[ "\u2028x" ]}', 'null',
  '{"a":[1,2],"b":{"c":{}}}', '{"a":{"b":{"c":[{"d":[]}]}}}', '[-0, 1E5, 2e-3, 0.5]', '[+1]', '[.5]', '["\\/"]', '["\\u12"]',
  '{"a":1}}', '{{}}', '[{]}', '[,]', '[1,]', '{,}', '{"a":1,,"b":2}', 'truefalse', '"\\\\"', '"\\\\\\"', '["a"""]', '"a\\"b"',
  '["\\\\"]', '["\\\\\\""]', '["a\\\\\\"b", "c"]', '["\\\\\\\\"]', '{"\\"":1}', '{"a\\\\":"b\\""}', '["\\\\\\\\\\"]',
  `${'['.repeat(200)}${']'.repeat(200)}`, `${'['.repeat(200)}${']'.repeat(199)}`, '{"a":"\u00e9\u6771"}', 'NaN', 'Infinity',
];
const ALPHABET = ['{', '}', '[', ']', '"', ':', ',', '0', '1', '-', '.', 'e', '+', 'true', 'null', '\\', '\\u', '\\"', '\\\\', '"\\"', 'a', ' ', '\n', '\t'];

function randomCandidates(count: number): string[] {
  const random = seededRandom(11);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const out: string[] = [];
  for (let i = 0; i < count; i += 1) {
    if (i % 2 === 0) {
      out.push(Array.from({ length: 1 + Math.floor(random() * 12) }, () => pick(ALPHABET)).join(''));
    } else {
      const base = pick(HOSTILE.filter((text) => text.length > 2));
      const at = Math.floor(random() * base.length);
      out.push(random() < 0.5 ? base.slice(0, at) + base.slice(at + 1) : base.slice(0, at) + pick(ALPHABET) + base.slice(at));
    }
  }
  return out;
}

let schema: TestSchema;
beforeAll(async () => {
  schema = await createTestSchema('json_validity');
});
afterAll(() => schema.drop());

describe('the server-side JSON check of text states', () => {
  it('agrees with the json cast, and reading never fails', async () => {
    const candidates = [...HOSTILE, ...randomCandidates(3000)];
    const query = sql`select i::int as i, ${fieldExpression(mapping, 'after')} as v
      from unnest(${candidates}::text[]) with ordinality as t(after, i) order by i`.compile(compiler);
    const rows = (await schema.query<{ i: number; v: unknown }>(query.sql, [...query.parameters])).rows;
    expect(rows).toHaveLength(candidates.length);
    let valid = 0;
    for (const [index, text] of candidates.entries()) {
      const castable = await schema.query('select $1::text::json as j', [text]).then(
        () => true,
        () => false,
      );
      const value = rows[index]?.v;
      if (castable) {
        valid += 1;
        expect(value, JSON.stringify(text)).toEqual(JSON.parse(text));
      } else {
        expect(value, JSON.stringify(text)).toEqual({ $api7_audit: 'invalid_json', raw: text });
      }
    }
    expect(valid).toBeGreaterThan(50);
  });
});
