import { Chalk, type ChalkInstance } from 'chalk';

/**
 * Colour for terminal output. The decision (TTY, NO_COLOR, FORCE_COLOR) is made once by the caller and passed
 * down as a Chalk instance, so formatters never look at `process` and tests get deterministic output.
 */
export type Colors = ChalkInstance;

/**
 * A Chalk instance that colours only when `enabled`. Level 1 (the 16 basic ANSI colours) is enough for every
 * colour used here and is the level every terminal that claims colour support renders correctly.
 */
export function createColors(enabled: boolean): Colors {
  return new Chalk({ level: enabled ? 1 : 0 });
}

/**
 * Whether stdout output should be coloured.
 *
 * - `FORCE_COLOR` set to a non-empty value wins: `0` or `false` turns colour off even on a terminal, anything
 *   else turns it on even in a pipe. It beats NO_COLOR, as in Node.js itself, because it is the more specific
 *   request (someone with NO_COLOR in their profile can still run `FORCE_COLOR=1 api7-audit list | less -R`).
 * - `NO_COLOR` set to a non-empty value (any value, per no-color.org) turns colour off.
 * - `TERM=dumb` (Emacs shells, some CI logs) turns it off: such a terminal shows escape codes as text.
 * - Otherwise colour follows whether stdout is a terminal. Empty values count as unset, as both specs say.
 * `--no-color` is turned into NO_COLOR (and FORCE_COLOR unset) where flags are read, so every writer honours it.
 */
export function shouldUseColor(isTty: boolean, env: NodeJS.ProcessEnv): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined && force !== '') {
    return !['0', 'false'].includes(force.trim().toLowerCase());
  }
  const noColor = env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return isTty;
}

/**
 * The colour of an operation name, so that a destructive DELETE stands out from routine UPDATEs when scanning a
 * long list. Matching is case-insensitive; unknown operations share one colour rather than looking like a known one.
 */
export function operationColor(colors: Colors, operation: string | null | undefined): Colors {
  switch ((operation ?? '').toUpperCase()) {
    case 'CREATE':
    case 'ADD':
    case 'INSERT':
      return colors.green;
    case 'UPDATE':
    case 'PATCH':
    case 'MODIFY':
    case 'PUT':
      return colors.yellow;
    case 'DELETE':
    case 'REMOVE':
      return colors.red;
    case 'LOGIN':
    case 'LOGOUT':
      return colors.cyan;
    case 'PUBLISH':
    case 'ROLLBACK':
    case 'SYNC':
      return colors.blue;
    default:
      return colors.magenta;
  }
}
