import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReceiverStats } from './hec-receiver.js';

/** The discarding HEC receiver, in its own process. */
export class Receiver {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const child = fork(fileURLToPath(new URL('./hec-receiver.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('HEC receiver did not start within 10 s')), 10_000);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`HEC receiver exited ${code}`)));
      child.once('message', (message) => {
        clearTimeout(timer);
        resolve((message as { url: string }).url);
      });
    });
    child.removeAllListeners('exit');
    return new Receiver(child, url);
  }

  stats(): Promise<ReceiverStats> {
    return new Promise((resolve) => {
      this.child.once('message', (message) => resolve(message as ReceiverStats));
      this.child.send('stats');
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send('stop');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
