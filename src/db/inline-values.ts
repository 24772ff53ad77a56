import { createQueryId, PostgresQueryCompiler, type OperationNodeSource, type RootOperationNode } from 'kysely';
import pg from 'pg';

/**
 * Compiles with every value written into the SQL text as a literal: for COPY, which takes no bind parameters. A
 * string goes through pg's own `escapeLiteral` (quotes doubled, and an `E'...'` literal with doubled backslashes
 * when it holds one, so it reads the same whatever `standard_conforming_strings` is); an untyped literal takes its
 * type from the context, as a bound parameter does. Identifiers are Kysely's, quoted as in every other query.
 */
class InlineValueCompiler extends PostgresQueryCompiler {
  protected override appendValue(value: unknown): void {
    this.append(literal(value));
  }
}

function literal(value: unknown): string {
  if (typeof value === 'string') return pg.escapeLiteral(value);
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))) return String(value);
  throw new Error(`cannot write a value of type ${typeof value} into SQL text`);
}

/** The SQL text of `query` with its values inline (see {@link InlineValueCompiler}). */
export function compileWithInlineValues(query: OperationNodeSource): string {
  return new InlineValueCompiler().compileQuery(query.toOperationNode() as RootOperationNode, createQueryId()).sql;
}
