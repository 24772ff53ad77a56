import { RuntimeError } from '../errors.js';
import { openEntryFile, type OpenedEntryFile } from '../output/private-file.js';
import { ReducedRecord } from '../sinks/oversize.js';
import type { OversizeHandler } from '../sinks/types.js';
import type { ExportRecord } from '../domain.js';

/**
 * The export's {@link OversizeHandler}: each entry too large for the destination is appended whole (as masked as
 * everything the export sends) to the `--rejects` file when there is one, named in a warning, counted once however
 * often its batch is retried, and sent in its reduced form.
 */
export class RejectedEntries implements OversizeHandler {
  private readonly ids = new Set<string>();
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly path: string | undefined,
    private readonly file: OpenedEntryFile | undefined,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * Opens `path` as every file holding entries is opened (src/output/private-file.ts: NDJSON appended to, 0600, never
   * through a symbolic link), before the run sends anything.
   */
  static async open(path: string | undefined, warn: (message: string) => void): Promise<RejectedEntries> {
    const file = path === undefined ? undefined : await openEntryFile(path, { flag: '--rejects', gzip: false, warn });
    return new RejectedEntries(path, file, warn);
  }

  /** Entries sent reduced so far. */
  get count(): number {
    return this.ids.size;
  }

  async reduce(record: ExportRecord, why: string): Promise<ExportRecord> {
    if (!this.ids.has(record.id)) {
      this.ids.add(record.id);
      const kept = this.file ? '; the whole entry is in the --rejects file' : '; give --rejects FILE to keep it whole';
      this.warn(`warning: entry id ${record.id} is too large for the destination (${why}); sent reduced${kept}`);
      if (this.file) await this.append(this.file, Buffer.from(`${record.jsonBytes}\n`, 'latin1'));
    }
    return new ReducedRecord(record);
  }

  /** Flushes the file to disk and closes it. Safe to call twice. */
  async close(): Promise<void> {
    if (this.file === undefined || this.closed) return;
    this.closed = true;
    await this.writes;
    if (this.file.regular) await this.file.handle.sync();
    await this.file.handle.close();
  }

  /** One write per line, one at a time: concurrent batches never interleave their lines. */
  private async append(file: OpenedEntryFile, line: Buffer): Promise<void> {
    const write = this.writes.then(async () => {
      try {
        await file.handle.write(line);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (typeof code !== 'string') throw error;
        throw new RuntimeError(`cannot write --rejects '${this.path}': ${code}`);
      }
    });
    this.writes = write.catch(() => undefined);
    await write;
  }
}
