import { Command, Option, type OptionValues } from '@commander-js/extra-typings';
import { UsageError } from '../../errors.js';

/**
 * `-o, --output FORMAT` (one of `formats`), its `--json` shortcut, and `--show-secrets`. {@link outputFormat} reads them back: the first
 * format is the default.
 */
export function withOutputFlags<const F extends readonly [string, ...string[]], Args extends unknown[], Opts extends OptionValues, Globals extends OptionValues>(
  command: Command<Args, Opts, Globals>,
  formats: F,
) {
  return command
    .addOption(new Option('-o, --output <format>', `output format (default: ${formats[0]})`).choices(formats))
    .option('--json', 'shortcut for --output json')
    .option('--show-secrets', 'print secret values instead of "******"');
}

/** The format asked for: `--json` is `--output json`, and contradicting it (`--json --output csv`) is a usage error. */
export function outputFormat<F extends string>(flags: { output?: F; json?: true }, fallback: F): F | 'json' {
  if (flags.json && flags.output !== undefined && flags.output !== 'json') throw new UsageError(`--json conflicts with --output ${flags.output}`);
  return flags.json ? 'json' : (flags.output ?? fallback);
}
