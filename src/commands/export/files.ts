import type { CliIo } from '../../io.js';
import { checkWritableDirectory, openEntryFile } from '../../output/private-file.js';
import type { SinkOptions } from '../../sinks/index.js';

/** What of the export's options this step reads (its options type lives in run.ts, which calls this). */
interface ExportFiles {
  dryRun: boolean;
  checkpoint?: string;
  sink: SinkOptions;
}

/**
 * Checks the files an export writes and opens `--out`, before the export reads or sends anything: a path that cannot
 * be written, or an `--out` file that must not be (a link, someone else's open file, not entries), is exit 2 at once
 * rather than a failure after the first batch was sent. Returns the options with the opened file in the sink's.
 */
export async function prepareExportFiles<T extends ExportFiles>(options: T, io: CliIo): Promise<T> {
  if (options.dryRun) return options;
  if (options.checkpoint !== undefined) await checkWritableDirectory(options.checkpoint, '--checkpoint');
  const { sink } = options;
  if (sink.kind !== 'file' || sink.path === '-') return options;
  const warn = (message: string) => void io.stderr.write(`${message}\n`);
  const file = await openEntryFile(sink.path, { flag: '--out', gzip: sink.gzip ?? sink.path.endsWith('.gz'), warn });
  return { ...options, sink: { ...sink, file } };
}
