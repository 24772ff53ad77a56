import type { CliIo } from '../io.js';

/** A progress line on stderr: an ora spinner on a terminal, nothing otherwise (cron mail stays clean). */
export interface Progress {
  /** Whether a line is shown: without one, a caller need not build the text it would update it with. */
  readonly visible: boolean;
  update(text: string): void;
  /** Prints a line above the progress line (or just prints it when there is none). */
  note(line: string): void;
  stop(): void;
}

export function silentProgress(io: CliIo): Progress {
  return { visible: false, update: () => undefined, note: (line) => io.stderr.write(`${line}\n`), stop: () => undefined };
}

export async function startProgress(io: CliIo, text: string): Promise<Progress> {
  // A terminal that reports 0 columns (a pty nobody sized, as `script` makes) sends ora into an endless loop of
  // clearing lines: no spinner there.
  if (!io.stderrIsTty || (io.stderr as { columns?: number }).columns === 0) return silentProgress(io);
  const { default: ora } = await import('ora');
  // discardStdin: ora would otherwise put stdin in raw mode and turn Ctrl-C into its own exit.
  const spinner = ora({ text, stream: io.stderr as NodeJS.WritableStream, discardStdin: false, isEnabled: true }).start();
  return {
    visible: true,
    update: (next) => {
      spinner.text = next;
    },
    note: (line) => {
      spinner.clear();
      io.stderr.write(`${line}\n`);
      spinner.render();
    },
    stop: () => spinner.stop(),
  };
}
