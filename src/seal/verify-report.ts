import { CliError } from '../errors.js';
import type { Problem } from './compare.js';

export type SealStatus = 'intact' | 'tampered' | 'missing' | 'unverifiable';

/** One seal range as verify found it. */
export interface SealCheck {
  seq: number;
  file: string;
  status: SealStatus;
  from: string | null;
  to: string | null;
  count: number | null;
  /** Entries of the range found in the database; sealed entries gone because pruned, and of those, found archived. */
  present: number;
  pruned: number;
  archived: number;
  problems: Problem[];
}

export interface VerifyReport {
  intact: boolean;
  table: string;
  store: string;
  key_id: string;
  seals: SealCheck[];
  /** The latest cutoff of a validly signed prune record: sealed entries before it may be gone. */
  prune_cutoff: string | null;
  /** Problems outside any seal range: a prune record with a bad signature. */
  problems: Problem[];
  /** Entries written after the newest seal (not covered yet), and the oldest one's timestamp. */
  unsealed: number;
  oldest_unsealed: string | null;
}

/**
 * verify checked and found something not intact: exit 4, so that a monitor tells evidence of tampering from a check
 * that could not run (1) and a wrong flag (2).
 */
export class NotIntactError extends CliError {
  static readonly EXIT_CODE = 4;
  constructor(message: string) {
    super(message, NotIntactError.EXIT_CODE);
  }
}
