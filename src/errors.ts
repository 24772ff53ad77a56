/**
 * Errors that carry their exit code. Anything thrown below `main.ts` that is not one of these is a bug or an
 * unexpected runtime failure, and `main.ts` maps it to exit 1.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from the user: flags, config values, ids. Exit 2. */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 2, options);
  }
}

/** The user answered no at a prompt, so nothing was done: said as a plain line, not an error; exit 1 (documented). */
export class DeclinedError extends CliError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** Something failed at run time: the database is down, a sink refused the token, an id does not exist. Exit 1. */
export class RuntimeError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 1, options);
  }
}

/** A connection to PostgreSQL that was open went away mid-run (a restart, pg_terminate_backend, a reset). Exit 1. */
export class ConnectionLostError extends RuntimeError {}

/** Another prune holds the table's advisory lock. Exit 3, so cron wrappers can tell "busy" from "broken". */
export class LockBusyError extends CliError {
  static readonly EXIT_CODE = 3;
  constructor(message: string) {
    super(message, LockBusyError.EXIT_CODE);
  }
}

/** The run was stopped by SIGINT/SIGTERM or a time limit before it finished. Exit 130 like a shell. */
export class InterruptedError extends CliError {
  constructor(message: string, exitCode = 130) {
    super(message, exitCode);
  }
}

const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** Why a file could not be read, in words (`no such file`), for "cannot read --flag 'PATH': ..." messages. */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined) return FILE_ERRORS[code] ?? code;
  return error instanceof Error ? error.message : String(error);
}
