import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/** examples/schema.sql split into its CREATE TABLE and its CREATE INDEX statements. */
export interface SchemaStatements {
  table: string;
  indexes: string[];
}

/**
 * Reads the recommended schema, so that every table the bench measures has exactly the indexes users are told to
 * create. The file is plain SQL without functions or string literals holding `;` or `--`, as its header promises.
 */
export async function readSchemaSql(): Promise<SchemaStatements> {
  const text = await readFile(new URL('../../examples/schema.sql', import.meta.url), 'utf8');
  const statements = text
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((statement) => statement.trim())
    .filter(Boolean);
  const table = statements.find((statement) => /^create\s+table/i.test(statement));
  if (!table) throw new Error('examples/schema.sql has no CREATE TABLE statement');
  return { table, indexes: statements.filter((statement) => statement !== table) };
}

/** Runs `statements` with `schema` first on the search path, as the schema file says to do. */
export async function runInSchema(client: pg.Client, schema: string, statements: readonly string[]): Promise<void> {
  await client.query(`set search_path to ${schema}`);
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.query('reset search_path');
  }
}
