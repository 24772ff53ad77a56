import { spawn } from 'node:child_process';
import { BIN } from './cli.js';

export interface PtyResult {
  code: number;
  /** Everything the terminal showed: stdout and stderr of the command, and the echo of what was typed. */
  output: string;
}

export interface PtyOptions {
  env?: NodeJS.ProcessEnv;
  /** Shell redirection appended to the command, e.g. `> file` to take stdout off the terminal. */
  redirect?: string;
  /** Typed once the terminal shows text matching `when`. */
  answer?: { when: RegExp; send: string };
  timeoutMs?: number;
  /** Terminal width; 0 leaves the pty unsized, as `script` makes it (it reports 0 columns). Default 120. */
  cols?: number;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the built binary on a pseudo-terminal (`script -qfec`), sized 120x40 as a real terminal would be unless
 * `cols` says otherwise. stdin, stdout and stderr are the terminal unless `redirect` says otherwise.
 */
export function spawnInPty(argv: string[], options: PtyOptions = {}): Promise<PtyResult> {
  const cols = options.cols ?? 120;
  const size = cols === 0 ? '' : `stty cols ${cols} rows 40; `;
  const command = `${size}exec ${[process.execPath, BIN, ...argv].map(quote).join(' ')} ${options.redirect ?? ''}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const chunks: Buffer[] = [];
    let answered = false;
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.answer && !answered && options.answer.when.test(Buffer.concat(chunks).toString('utf8'))) {
        answered = true;
        child.stdin.write(options.answer.send);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The whole group: script and the binary under it.
    const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}
