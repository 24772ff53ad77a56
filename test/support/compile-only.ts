import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import type { Db } from '../../src/db/connect.js';
import { DEFAULT_COLUMNS, type ResolvedMapping } from '../../src/db/mapping.js';
import { CANONICAL_FIELDS } from '../../src/domain.js';

/** A Kysely instance that compiles PostgreSQL but never connects: for asserting SQL shapes and bound parameters. */
export const compileOnlyDb: Db = new Kysely({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

const TYPES: Record<string, string> = { id: 'int8', timestamp: 'timestamptz', source_ip: 'inet', before: 'jsonb', after: 'jsonb' };

/** The default `public.audit_logs` layout, as resolveMapping would return it. */
export const defaultMapping: ResolvedMapping = {
  table: { schema: 'public', name: 'audit_logs' },
  partitioned: false,
  columns: Object.fromEntries(CANONICAL_FIELDS.map((f) => [f, { name: DEFAULT_COLUMNS[f], type: TYPES[f] ?? 'text' }])) as ResolvedMapping['columns'],
};
