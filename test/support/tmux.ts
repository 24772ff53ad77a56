import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** An interactive shell in a tmux pane of its own tmux server: keys go in as typed, the screen comes out as shown. */
export interface Terminal {
  /** Types `text` literally. */
  type(text: string): Promise<void>;
  /** Presses keys by tmux name: Tab, Enter, C-a, C-c. */
  press(...keys: string[]): Promise<void>;
  /** The visible screen, trailing blank lines dropped. */
  screen(): Promise<string>;
  /** Waits until the screen matches `pattern` (polling every 100 ms, at most `timeoutMs`); the screen, or it throws. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts `command` (argv, run with exactly `env`) in a detached 150x50 tmux session on a socket in `dir`, so the
 * test's server is its own and closing it ends the shell and everything under it.
 */
export async function startTerminal(command: string[], options: { dir: string; cwd: string; env: Record<string, string> }): Promise<Terminal> {
  const socket = `${options.dir}/tmux.sock`;
  const tmux = (...args: string[]) => run('tmux', ['-S', socket, ...args], { timeout: 10_000 });
  const env = Object.entries(options.env).map(([name, value]) => `${name}=${value}`);
  await tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'shell', '-x', '150', '-y', '50', '-c', options.cwd, 'env', '-i', ...env, ...command);
  const screen = async () => (await tmux('capture-pane', '-p', '-t', 'shell')).stdout.replace(/\s+$/, '');
  return {
    type: async (text) => void (await tmux('send-keys', '-t', 'shell', '-l', text)),
    press: async (...keys) => void (await tmux('send-keys', '-t', 'shell', ...keys)),
    screen,
    async waitFor(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let shown = '';
      while (Date.now() < deadline) {
        shown = await screen();
        if (pattern.test(shown)) return shown;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`the terminal did not show ${pattern} within ${timeoutMs} ms; it shows:\n${shown}`);
    },
    close: async () => void (await tmux('kill-server').catch(() => undefined)),
  };
}
