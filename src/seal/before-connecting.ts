import { closeEarly, type OpenPool } from '../db/pool.js';

/** Runs a check of the command's input; if it fails, the connection opened early is ended, not left to keep Node up. */
export async function closeOnFailure<T>(early: Promise<OpenPool> | undefined, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    await closeEarly(early).catch(() => undefined);
    throw error;
  }
}
