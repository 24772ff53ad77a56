import { RuntimeError, UsageError } from '../errors.js';

/**
 * `--jq EXPR`, as in gh: the JSON output filtered by jq itself (jq-wasm: jq 1.8 compiled to WebAssembly), strings
 * printed raw. Loaded only when asked for: 100 ms to compile the module.
 */
export async function checkJq(expression: string): Promise<void> {
  const { raw } = await import('jq-wasm');
  const result = await raw(null, expression, ['-n']);
  // Exit 3 is jq's "compile error": the expression itself is wrong, whatever the data.
  if (result.exitCode === 3) throw new UsageError(`invalid --jq '${expression}': ${firstLine(result.stderr)}`);
}

/** Runs `expression` on `jsonText` (one JSON document) and returns jq's output, ending in a newline when not empty. */
export async function runJq(jsonText: string, expression: string): Promise<string> {
  const { raw } = await import('jq-wasm');
  const result = await raw(jsonText, expression, ['-r']);
  if (result.exitCode === 3) throw new UsageError(`invalid --jq '${expression}': ${firstLine(result.stderr)}`);
  if (result.exitCode !== 0) throw new RuntimeError(`--jq '${expression}': ${firstLine(result.stderr) || `jq exited ${result.exitCode}`}`);
  return result.stdout === '' ? '' : `${result.stdout}\n`;
}

function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? '').replace(/^jq: error(?: \(at [^)]*\))?: /, '');
}
