import { RuntimeError } from '../errors.js';

/**
 * PostgreSQL's "permission denied for table audit_logs" (SQLSTATE 42501) as one line that says what to grant: seal
 * and verify only read the table. Any other error is returned as it is.
 */
export function explainPermission(error: unknown, table: string, command: 'seal' | 'verify'): unknown {
  if ((error as { code?: unknown } | null)?.code !== '42501') return error;
  return new RuntimeError(`${(error as Error).message}: ${command} only reads ${table}; its role needs SELECT on it (GRANT SELECT ON ${table} TO <role>)`, { cause: error });
}

/** Row security would hide entries from seal (never sealed) or verify (reported deleted): refused, in one line. */
export function rowSecurityError(table: string, command: 'seal' | 'verify'): RuntimeError {
  return new RuntimeError(`row security hides entries of ${table} from this role, and ${command} must read every one: run it as the table's owner or a role with BYPASSRLS`);
}
