import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromByteString } from '../../src/byte-string.js';
import { poolOf, withDatabase, type Db } from '../../src/db/connect.js';
import { copyOutValues } from '../../src/db/copy-out.js';
import { compileWithInlineValues } from '../../src/db/inline-values.js';
import { databaseUrl } from '../support/database.js';

// COPY reads the export's entries: values must come back byte for byte, quoted values inline must mean what they
// meant as parameters, and a COPY left early must not leave a connection behind.
const TRICKY = ["it's", 'back\\slash', "both \\' and '' and \\\\", 'caf\u00e9 \u4e2d\u6587 \u{1F600}', '$1', ''];
const settings = { target: { url: databaseUrl(), libpq: {}, source: '--db' as const }, connectTimeoutMs: 5000, maxConnections: 2 };

async function collect(db: Db, select: string): Promise<string[]> {
  const values: string[] = [];
  for await (const batch of copyOutValues(poolOf(db), select)) values.push(...batch.map(fromByteString));
  return values;
}

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
});

describe('copyOutValues and compileWithInlineValues', () => {
  it('returns each value byte for byte, and inline literals compare as the bound parameters did', async () => {
    await withDatabase(settings, async (db) => {
      const query = db
        .selectFrom(sql`(select v, n from unnest(array[${sql.join(TRICKY)}]::text[]) with ordinality as u(v, n))`.as('t'))
        .select(sql<string>`json_build_object('v', t.v, 'same', t.v = ${TRICKY[2]})::text`.as('json'))
        .where(sql<boolean>`t.v <> ${'nothing'}`)
        .orderBy(sql`t.n`);
      const select = compileWithInlineValues(query);
      expect(select.replaceAll("'$1'", '')).not.toMatch(/\$\d/);
      const values = (await collect(db, select)).map((text) => JSON.parse(text) as { v: string; same: boolean });
      expect(values.map((value) => value.v)).toEqual(TRICKY);
      expect(values.map((value) => value.same)).toEqual(TRICKY.map((value) => value === TRICKY[2]));
    });
  });

  it('reads many rows across socket reads, and stops early without leaving a connection open', async () => {
    await withDatabase(settings, async (db) => {
      const select = `select repeat('x', 1000 + g % 7) || g from generate_series(1, 20000) g`;
      expect((await collect(db, select)).length).toBe(20000);
      const backends = async () =>
        Number((await admin.query(`select count(*) from pg_stat_activity where application_name = 'api7-audit' and query like $1`, [`COPY (${select})%`])).rows[0].count);
      for await (const batch of copyOutValues(poolOf(db), select)) {
        expect(batch.length).toBeGreaterThan(0);
        break;
      }
      // The pool still serves queries, and no backend is left in the COPY.
      expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
      for (let tries = 0; tries < 50 && (await backends()) > 0; tries += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await backends()).toBe(0);
    });
  });

  it('reports a failure of the statement as an error of the read', async () => {
    await withDatabase(settings, async (db) => {
      await expect(collect(db, `select (1 / (g - 5000))::text from generate_series(1, 10000) g`)).rejects.toThrow(/division by zero/);
      expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
    });
  });
});
