import { describe, expect, it, vi } from 'vitest';
import type { QueuedOutput } from '../../src/interrupt.js';

/** interrupt.ts keeps the run's state in the module: each test takes a fresh copy. */
async function fresh(): Promise<typeof import('../../src/interrupt.js')> {
  vi.resetModules();
  return import('../../src/interrupt.js');
}

/** A stdout whose queue the test empties, and a record of what was written after the signal. */
function queued(length: number): QueuedOutput & { writableLength: number; written: string[] } {
  const out = { writableLength: length, written: [] as string[], write: ((text: string) => { out.written.push(text); return true; }) as QueuedOutput['write'] };
  return out;
}

describe('endInterruptedRun', () => {
  it('drops new writes, waits for the queue to empty, then exits 130 with the plain message', async () => {
    const { endInterruptedRun } = await fresh();
    vi.useFakeTimers();
    try {
      const out = queued(70_000);
      const err: string[] = [];
      const exit = vi.fn();
      endInterruptedRun('SIGINT', out, { write: (text: string) => err.push(text) }, exit);
      expect((out.write as unknown as (text: string) => boolean)('{"id":1}\n')).toBe(false);
      expect(out.written).toEqual([]);
      await vi.advanceTimersByTimeAsync(500);
      expect(exit).not.toHaveBeenCalled();
      out.writableLength = 0;
      await vi.advanceTimersByTimeAsync(20);
      expect(exit).toHaveBeenCalledWith(130);
      expect(err).toEqual(['error: interrupted (SIGINT)\n']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('endInterruptedRun with a reader that takes nothing', () => {
  it('exits 130 after the bound, saying the last line may be cut; a further signal exits at once', async () => {
    const { endInterruptedRun, LINE_FLUSH_BOUND_MS } = await fresh();
    vi.useFakeTimers();
    try {
      const out = queued(70_000);
      const err: string[] = [];
      const exit = vi.fn();
      const stderr = { write: (text: string) => err.push(text) };
      endInterruptedRun('SIGTERM', out, stderr, exit);
      await vi.advanceTimersByTimeAsync(LINE_FLUSH_BOUND_MS - 100);
      expect(exit).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(200);
      expect(exit).toHaveBeenCalledWith(130);
      expect(err).toEqual(["error: interrupted (SIGTERM); stdout's reader did not take the rest within 2 s: the last line may be cut\n"]);
      // The module keeps its state: this call is the "further signal".
      endInterruptedRun('SIGINT', out, stderr, exit);
      expect(exit).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
